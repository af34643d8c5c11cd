package restapi

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
)

// RepairTarget is the dry-run answer of a repair task (swagger
// RepairTarget).
type RepairTarget struct {
	ClusterID   string       `json:"cluster_id"`
	Host        string       `json:"host,omitempty"`
	IgnoreHosts []string     `json:"ignore_hosts,omitempty"`
	DC          []string     `json:"dc"`
	WithHosts   []string     `json:"with_hosts,omitempty"`
	TokenRanges string       `json:"token_ranges"`
	Units       []RepairUnit `json:"units"`
}

// RepairUnit is a keyspace and its tables in a RepairTarget.
type RepairUnit struct {
	Keyspace  string   `json:"keyspace"`
	Tables    []string `json:"tables,omitempty"`
	AllTables bool     `json:"all_tables"`
}

// SetRepairIntensity changes the intensity of the cluster's running repair
// (PUT /cluster/{id}/repairs/intensity).
func (c *Client) SetRepairIntensity(ctx context.Context, cluster string, intensity float64) error {
	_, err := c.do(ctx, http.MethodPut, c.url(url.Values{"intensity": {strconv.FormatFloat(intensity, 'g', -1, 64)}}, "cluster", cluster, "repairs", "intensity"), nil, nil)
	return err
}

// SetRepairParallel changes the parallel of the cluster's running repair
// (PUT /cluster/{id}/repairs/parallel).
func (c *Client) SetRepairParallel(ctx context.Context, cluster string, parallel int) error {
	_, err := c.do(ctx, http.MethodPut, c.url(url.Values{"parallel": {strconv.Itoa(parallel)}}, "cluster", cluster, "repairs", "parallel"), nil, nil)
	return err
}
