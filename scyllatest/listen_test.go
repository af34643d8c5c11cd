package scyllatest_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/scyllaops/scyllaops/agentclient"
	"github.com/scyllaops/scyllaops/scyllatest"
)

// TestListenMode serves the nodes on 127.x.y.z sockets: the agent over
// HTTPS (self-signed), the Scylla REST API and CQL over TCP.
func TestListenMode(t *testing.T) {
	c := scyllatest.New(t, scyllatest.Options{TokensPerNode: 4, Listen: true, Alternator: true})
	ctx := t.Context()
	n := c.Nodes()[0]
	if ip := net.ParseIP(n.IP); ip == nil || !ip.IsLoopback() {
		t.Fatalf("node IP %s is not a loopback address", n.IP)
	}
	// The default TCP+TLS transport of agentclient, not the cluster's.
	client, err := agentclient.New(nil, agentclient.Options{AuthToken: c.AuthToken(), RetryMax: -1})
	if err != nil {
		t.Fatal(err)
	}
	ids, err := client.HostIDMap(ctx, n.IP)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 3 || ids[n.IP] != n.HostID.String() {
		t.Fatalf("host ids %v", ids)
	}
	info, err := client.NodeInfo(ctx, n.IP)
	if err != nil {
		t.Fatal(err)
	}
	if info.ListenAddress != n.IP || info.DataDirectory != n.DataDir || info.AlternatorPort != "8000" {
		t.Fatalf("node info %+v", info)
	}
	bad, _ := agentclient.New(nil, agentclient.Options{AuthToken: "wrong", RetryMax: -1})
	if _, err := bad.HostIDMap(ctx, n.IP); !errors.Is(err, agentclient.ErrUnauthorized) {
		t.Fatalf("wrong token: %v, want ErrUnauthorized", err)
	}
	// Scylla REST directly on port 10000 (plain HTTP).
	resp, err := http.Get("http://" + n.IP + ":10000/storage_service/cluster_name")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "\""+scyllatest.DefaultClusterName+"\"" {
		t.Fatalf("cluster name %q", b)
	}
	// CQL OPTIONS over TCP.
	conn, err := net.DialTimeout("tcp", c.CQLAddr(n), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte{0x04, 0, 0, 0, 0x05, 0, 0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	hdr := make([]byte, 9)
	if _, err := io.ReadFull(conn, hdr); err != nil || hdr[4] != 0x06 {
		t.Fatalf("OPTIONS over TCP: % x %v", hdr, err)
	}
	// Stop closes the sockets; Start reopens them.
	if err := c.Stop(n); err != nil {
		t.Fatal(err)
	}
	if err := client.Ping(ctx, n.IP); !errors.Is(err, agentclient.ErrUnreachable) {
		t.Fatalf("ping stopped node: %v, want ErrUnreachable", err)
	}
	if err := c.Start(n); err != nil {
		t.Fatal(err)
	}
	if err := client.Ping(ctx, n.IP); err != nil {
		t.Fatalf("ping restarted node: %v", err)
	}
	if err := c.Client().Ping(ctx, c.Nodes()[2].IP); err != nil {
		t.Fatalf("cluster client in Listen mode: %v", err)
	}
}

// TestListenAgentToScyllaInProcess: with the option, the agents answer
// over their sockets as in Listen mode, and reach Scylla without any
// connection to the node's REST listener.
func TestListenAgentToScyllaInProcess(t *testing.T) {
	c := scyllatest.New(t, scyllatest.Options{TokensPerNode: 4, Listen: true, ListenAgentToScyllaInProcess: true})
	n := c.Nodes()[0]
	client, err := agentclient.New(nil, agentclient.Options{AuthToken: c.AuthToken(), RetryMax: -1})
	if err != nil {
		t.Fatal(err)
	}
	ids, err := client.HostIDMap(t.Context(), n.IP)
	if err != nil || ids[n.IP] != n.HostID.String() {
		t.Fatalf("host ids over the agent's socket: %v, %v", ids, err)
	}
	if v, err := client.ScyllaReleaseVersion(t.Context(), n.IP); err != nil || v == "" {
		t.Fatalf("release version: %q, %v", v, err)
	}
	// No TCP connection to the node's REST port (10000 = 0x2710) exists,
	// kept or closing: /proc/net/tcp lists addresses as little-endian hex.
	ip := net.ParseIP(n.IP).To4()
	rest := fmt.Sprintf("%02X%02X%02X%02X:2710", ip[3], ip[2], ip[1], ip[0])
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Skipf("no /proc/net/tcp: %v", err)
	}
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) > 3 && f[2] == rest {
			t.Errorf("a connection to the REST listener %s:10000: %s", n.IP, strings.TrimSpace(line))
		}
	}
}
