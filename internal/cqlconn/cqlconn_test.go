package cqlconn_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/scyllaops/scyllaops/internal/cqlconn"
	"github.com/scyllaops/scyllaops/scyllatest"
)

func TestQueryAndAuth(t *testing.T) {
	c := scyllatest.New(t, scyllatest.Options{CQLUser: "cassandra", CQLPassword: "secret"})
	n := c.Nodes()[0]
	dial := c.CQLDialer().DialContext

	conn, err := cqlconn.Open(t.Context(), dial, c.CQLAddr(n), nil, "cassandra", "secret")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cols, rows, err := conn.Query("DESCRIBE SCHEMA WITH INTERNALS")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cols, []string{"keyspace_name", "type", "name", "create_statement"}) {
		t.Fatalf("columns %q", cols)
	}
	want := c.Schema()
	if len(rows) != len(want) || len(rows) == 0 {
		t.Fatalf("%d rows, simulator has %d", len(rows), len(want))
	}
	for i, r := range rows {
		if r[0] != want[i].Keyspace || r[2] != want[i].Name || r[3] != want[i].CreateStatement {
			t.Fatalf("row %d = %q, want %+v", i, r, want[i])
		}
	}

	_, err = cqlconn.Open(t.Context(), dial, c.CQLAddr(n), nil, "cassandra", "wrong")
	if !errors.Is(err, cqlconn.ErrUnauthorized) {
		t.Fatalf("wrong password: %v, want ErrUnauthorized", err)
	}
}
