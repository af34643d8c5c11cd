package main

import (
	"fmt"
	"slices"
	"sort"

	"github.com/spf13/cobra"

	"github.com/scyllaops/scyllaops/restapi"
)

func (a *app) statusCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show status of clusters",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			clusters := []string{a.cluster}
			if a.cluster == "" {
				a.cluster = a.getenv("SCYLLA_MANAGER_CLUSTER")
				clusters = []string{a.cluster}
			}
			if a.cluster == "" {
				cs, err := a.client.ListClusters(ctx)
				if err != nil {
					return err
				}
				clusters = clusters[:0]
				for _, c := range cs {
					clusters = append(clusters, c.Name)
				}
			}
			all := map[string][]restapi.NodeStatus{}
			for _, cl := range clusters {
				st, err := a.client.ClusterStatus(ctx, cl)
				if err != nil {
					return err
				}
				all[cl] = st
			}
			if a.cluster != "" {
				if ok, err := a.structured(all[a.cluster]); ok {
					return err
				}
			} else if ok, err := a.structured(all); ok {
				return err
			}
			for _, cl := range clusters {
				if len(clusters) > 1 {
					a.printf("Cluster: %s\n", cl)
				}
				a.printf("%s", statusText(all[cl]))
			}
			return nil
		},
	}
	a.clusterFlag(cmd)
	return cmd
}

func cell(status string, rtt float32, ssl bool) string {
	if status == "" {
		return "-"
	}
	s := status
	if ssl && status == "UP" {
		s += " SSL"
	}
	if rtt <= 0 && status != "UP" {
		return s
	}
	return fmt.Sprintf("%s (%.0fms)", s, rtt)
}

// statusText renders one table per DC and the errors below, as sctool.
func statusText(ns []restapi.NodeStatus) string {
	byDC := map[string][]restapi.NodeStatus{}
	var dcs []string
	alternator := false
	for _, n := range ns {
		if _, ok := byDC[n.DC]; !ok {
			dcs = append(dcs, n.DC)
		}
		byDC[n.DC] = append(byDC[n.DC], n)
		if n.AlternatorStatus != "" {
			alternator = true
		}
	}
	sort.Strings(dcs)
	out := ""
	var errs []string
	for _, dc := range dcs {
		header := []string{""}
		if alternator {
			header = append(header, "Alternator")
		}
		header = append(header, "CQL", "REST", "Address", "Uptime", "CPUs", "Memory", "Scylla", "Agent", "Host ID")
		t := newTable(header...)
		nodes := byDC[dc]
		slices.SortFunc(nodes, func(x, y restapi.NodeStatus) int { return compareHosts(x.Host, y.Host) })
		for _, n := range nodes {
			row := []any{n.Status}
			if alternator {
				row = append(row, cell(n.AlternatorStatus, n.AlternatorRttMs, false))
			}
			uptime := ""
			if n.Uptime > 0 {
				uptime = restapi.FormatDuration(secondsDur(n.Uptime))
			}
			mem := ""
			if n.TotalRAM > 0 {
				mem = sizeString(n.TotalRAM)
			}
			cpus := ""
			if n.CPUCount > 0 {
				cpus = fmt.Sprint(n.CPUCount)
			}
			row = append(row, cell(n.CQLStatus, n.CQLRttMs, n.SSL), cell(n.RESTStatus, n.RESTRttMs, false), n.Host,
				uptime, cpus, mem, n.ScyllaVersion, n.AgentVersion, n.HostID)
			t.add(row...)
			for _, c := range []struct{ what, cause string }{{"CQL", n.CQLCause}, {"REST", n.RESTCause}, {"Alternator", n.AlternatorCause}} {
				if c.cause != "" {
					errs = append(errs, fmt.Sprintf("%s %s: %s", n.Host, c.what, c.cause))
				}
			}
		}
		out += "Datacenter: " + dc + "\n" + t.String()
	}
	if len(errs) > 0 {
		out += "Errors:\n"
		for _, e := range errs {
			out += "- " + e + "\n"
		}
	}
	return out
}
