package restapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strings"
)

// DefaultAPIURL is where sctool looks for the server by default.
const DefaultAPIURL = "http://127.0.0.1:5080/api/v1"

// Client is a Go client of the API. Create it with NewClient.
type Client struct {
	base *url.URL
	hc   *http.Client
}

// NewClient returns a client of the API at baseURL (for example
// "http://127.0.0.1:5080/api/v1"; a URL without the /api/v1 path gets it).
// hc nil means a new http.Client with default settings.
func NewClient(baseURL string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("restapi: api url %q: want http(s)://host:port/api/v1", baseURL)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("restapi: api url %q: want the http or https scheme", baseURL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	if !strings.HasSuffix(u.Path, APIPrefix) {
		u.Path += APIPrefix
	}
	if hc == nil {
		hc = &http.Client{}
	}
	return &Client{base: u, hc: hc}, nil
}

// BaseURL returns the API URL the client talks to.
func (c *Client) BaseURL() string { return c.base.String() }

// root returns the server URL without the /api/v1 prefix.
func (c *Client) root(p string) string {
	u := *c.base
	u.Path = strings.TrimSuffix(u.Path, APIPrefix) + p
	return u.String()
}

func (c *Client) url(q url.Values, parts ...string) string {
	u := *c.base
	esc := make([]string, len(parts))
	for i, p := range parts {
		esc[i] = url.PathEscape(p)
	}
	u.RawPath = u.Path + "/" + strings.Join(esc, "/")
	u.Path = path.Join(append([]string{u.Path}, parts...)...)
	if len(q) > 0 {
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// do sends a request with an optional JSON body and decodes a JSON answer
// into out (if non-nil). It returns the response headers.
func (c *Client) do(ctx context.Context, method, u string, body, out any) (http.Header, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("restapi: encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("restapi: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("restapi: %s %s: %w", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return nil, fmt.Errorf("restapi: %s %s: read answer: %w", method, u, err)
	}
	if resp.StatusCode >= 300 {
		return resp.Header, errorAnswer(resp.StatusCode, b)
	}
	if out != nil && len(bytes.TrimSpace(b)) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.Header, fmt.Errorf("restapi: %s %s: decode answer: %w", method, u, err)
		}
	}
	return resp.Header, nil
}

// Ping checks that the server answers GET /ping.
func (c *Client) Ping(ctx context.Context) error {
	_, err := c.do(ctx, http.MethodGet, c.root("/ping"), nil, nil)
	return err
}

// Version returns the server's version.
func (c *Client) Version(ctx context.Context) (string, error) {
	var v Version
	_, err := c.do(ctx, http.MethodGet, c.root("/version"), nil, &v)
	return v.Version, err
}

// lastSegment returns the last path segment of a Location header.
func lastSegment(h http.Header) string {
	loc := h.Get("Location")
	if i := strings.LastIndexByte(loc, '/'); i >= 0 {
		return loc[i+1:]
	}
	return loc
}

// ListClusters lists the clusters.
func (c *Client) ListClusters(ctx context.Context) ([]Cluster, error) {
	var out []Cluster
	_, err := c.do(ctx, http.MethodGet, c.url(nil, "clusters"), nil, &out)
	return out, err
}

// CreateCluster adds a cluster and returns its ID.
func (c *Client) CreateCluster(ctx context.Context, cl Cluster) (string, error) {
	h, err := c.do(ctx, http.MethodPost, c.url(nil, "clusters"), cl, nil)
	if err != nil {
		return "", err
	}
	return lastSegment(h), nil
}

// GetCluster returns a cluster by ID or name.
func (c *Client) GetCluster(ctx context.Context, cluster string) (Cluster, error) {
	var out Cluster
	_, err := c.do(ctx, http.MethodGet, c.url(nil, "cluster", cluster), nil, &out)
	return out, err
}

// UpdateCluster replaces a cluster and returns it.
func (c *Client) UpdateCluster(ctx context.Context, cluster string, cl Cluster) (Cluster, error) {
	var out Cluster
	_, err := c.do(ctx, http.MethodPut, c.url(nil, "cluster", cluster), cl, &out)
	return out, err
}

// DeleteClusterOptions selects what DeleteCluster removes: any true
// field deletes only those secrets and keeps the cluster.
type DeleteClusterOptions struct {
	CQLCreds        bool
	AlternatorCreds bool
	SSLUserCert     bool
}

// DeleteCluster deletes a cluster, or only some of its secrets.
func (c *Client) DeleteCluster(ctx context.Context, cluster string, o DeleteClusterOptions) error {
	q := url.Values{}
	if o.CQLCreds {
		q.Set("cql_creds", "true")
	}
	if o.AlternatorCreds {
		q.Set("alternator_creds", "true")
	}
	if o.SSLUserCert {
		q.Set("ssl_user_cert", "true")
	}
	_, err := c.do(ctx, http.MethodDelete, c.url(q, "cluster", cluster), nil, nil)
	return err
}

// ClusterStatus returns the status of every node of a cluster.
func (c *Client) ClusterStatus(ctx context.Context, cluster string) ([]NodeStatus, error) {
	var out []NodeStatus
	_, err := c.do(ctx, http.MethodGet, c.url(nil, "cluster", cluster, "status"), nil, &out)
	return out, err
}

// errorAnswer is the error of an answer with status code status and body
// b: the server's ErrorResponse, else the body's text, else the status
// text.
func errorAnswer(status int, b []byte) *APIError {
	ae := &APIError{StatusCode: status}
	var er ErrorResponse
	if json.Unmarshal(b, &er) == nil && er.Message != "" {
		ae.Message, ae.Details, ae.TraceID = er.Message, er.Details, er.TraceID
	} else {
		ae.Message = strings.TrimSpace(string(b))
		if ae.Message == "" {
			ae.Message = http.StatusText(status)
		}
	}
	return ae
}
