package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"

	"github.com/scyllaops/scyllaops"
	"github.com/scyllaops/scyllaops/restapi"
	"github.com/scyllaops/scyllaops/scyllatest"
	"github.com/scyllaops/scyllaops/store/boltstore"
)

// env is what run sets up.
type env struct {
	log     *slog.Logger
	closers []func() error // more simulated clusters, closed at exit
	dir     string
	cluster *scyllatest.Cluster
	client  *restapi.Client
	apiURL  string
}

// options are the demo's flags.
type options struct {
	keep  bool // keep the temporary directory
	serve bool // keep serving after the scenario until ctx ends
}

func run(ctx context.Context, out io.Writer, log *slog.Logger, o options) (err error) {
	dir, err := os.MkdirTemp("", "scyllaops-demo-")
	if err != nil {
		return err
	}
	defer func() {
		if o.keep {
			fmt.Fprintf(out, "Kept %s\n", dir)
			return
		}
		if rerr := os.RemoveAll(dir); rerr != nil {
			err = errors.Join(err, rerr)
		}
	}()
	bucketRoot := filepath.Join(dir, "buckets")

	step(out, 1, "Starting a simulated ScyllaDB cluster: 2 DCs, 6 nodes, agents on 127.0.x.y:%d", scyllatest.PortAgent)
	sc, err := scyllatest.Start(scyllatest.Options{
		Topology: []scyllatest.DC{
			{Name: "dc1", Racks: []scyllatest.Rack{{Name: "rack1", Nodes: 3}}},
			{Name: "dc2", Racks: []scyllatest.Rack{{Name: "rack1", Nodes: 3}}},
		},
		Keyspaces:  demoKeyspaces(),
		DataDir:    filepath.Join(dir, "nodes"),
		Listen:     true,
		Logger:     log,
		OpenBucket: localBuckets(bucketRoot),
	})
	if err != nil {
		return fmt.Errorf("start the simulated cluster: %w", err)
	}
	defer func() { err = errors.Join(err, sc.Close()) }()
	fmt.Fprintf(out, "Nodes: %v\n", sc.Hosts())

	step(out, 2, "Starting the manager (bbolt store in %s) and the REST API on loopback", dir)
	st, err := boltstore.Open(ctx, filepath.Join(dir, "state.db"), boltstore.Options{Logger: log})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, st.Close()) }()
	m, err := scyllaops.New(st, sc.Transport(), scyllaops.Options{Logger: log})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, m.Close()) }()
	runCtx, stopRun := context.WithCancel(ctx)
	runDone := make(chan error, 1)
	go func() { runDone <- m.Run(runCtx) }()
	defer func() {
		stopRun()
		if rerr := <-runDone; rerr != nil && !errors.Is(rerr, context.Canceled) {
			err = errors.Join(err, rerr)
		}
	}()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: restapi.NewHandler(m, restapi.Options{Logger: log}), ReadHeaderTimeout: 10 * time.Second}
	srvDone := make(chan error, 1)
	go func() { srvDone <- srv.Serve(ln) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		err = errors.Join(err, srv.Shutdown(sctx))
		if serr := <-srvDone; !errors.Is(serr, http.ErrServerClosed) {
			err = errors.Join(err, serr)
		}
	}()
	apiURL := "http://" + ln.Addr().String() + "/api/v1"
	c, err := restapi.NewClient(apiURL, nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "API: %s (sctool-compatible while the demo runs: go run ./examples/cli --api-url %s tasks -c demo)\n", apiURL, apiURL)

	e := &env{log: log, dir: dir, cluster: sc, client: c, apiURL: apiURL}
	defer func() {
		for _, cl := range e.closers {
			err = errors.Join(err, cl())
		}
	}()
	if err := e.scenario(ctx, out, bucketRoot); err != nil {
		return err
	}
	if o.serve {
		e.serve(ctx, out)
	}
	return nil
}

// serve prints commands to try against the running server and waits for
// ctx (Ctrl-C).
func (e *env) serve(ctx context.Context, out io.Writer) {
	fmt.Fprintf(out, "\n== Serving until Ctrl-C. The cluster %q and the server stay up; try:\n\n", clusterName)
	for _, c := range tryCommands(e.apiURL) {
		fmt.Fprintf(out, "  %s\n", c)
	}
	fmt.Fprintf(out, "\n(sctool is Scylla Manager's CLI: its --api-url flag, or SCYLLA_MANAGER_API_URL=%s, points it here.)\n", e.apiURL)
	<-ctx.Done()
	fmt.Fprintln(out, "\nStopping.")
}

// tryCommands are the CLI and sctool commands -serve suggests.
func tryCommands(apiURL string) []string {
	cli := "go run ./examples/cli --api-url " + apiURL
	sct := "sctool --api-url " + apiURL
	return []string{
		cli + " status -c " + clusterName,
		cli + " tasks -c " + clusterName,
		cli + " backup list -c " + clusterName + " -L " + location,
		cli + " backup validate -c " + clusterName + " -L " + location,
		cli + " backup -c " + clusterName + " -L " + location,
		sct + " cluster list",
		sct + " status -c " + clusterName,
		sct + " tasks -c " + clusterName,
		sct + " backup list -c " + clusterName + " -L " + location,
		sct + " backup -c " + clusterName + " -L " + location + " --dry-run",
	}
}

func demoKeyspaces() []scyllatest.Keyspace {
	// The replication fields are set one by one: their struct type lives
	// in an internal package examples do not import.
	nts := func(name string, tables ...scyllatest.Table) scyllatest.Keyspace {
		ks := scyllatest.Keyspace{Name: name, Tables: tables}
		ks.Replication.Strategy = "NetworkTopologyStrategy"
		ks.Replication.DCRF = map[string]int{"dc1": 3, "dc2": 3}
		return ks
	}
	audit := scyllatest.Keyspace{Name: "audit", Tables: []scyllatest.Table{{Name: "log", SSTables: 3, DataSize: 64 << 10}}}
	audit.Replication.Strategy = "SimpleStrategy"
	audit.Replication.RF = 2
	return []scyllatest.Keyspace{
		nts("shop", scyllatest.Table{Name: "orders", SSTables: 4, DataSize: 256 << 10}, scyllatest.Table{Name: "customers", SSTables: 2, DataSize: 128 << 10}),
		nts("metrics", scyllatest.Table{Name: "samples", SSTables: 6, DataSize: 512 << 10}),
		audit,
	}
}

// localBuckets opens "localstorage" buckets as directories under root
// (every node shares them, as a shared filesystem).
func localBuckets(root string) func(ctx context.Context, provider, bucket string) (*blob.Bucket, error) {
	return func(ctx context.Context, provider, bucket string) (*blob.Bucket, error) {
		if provider != "localstorage" {
			return nil, fmt.Errorf("demo: provider %q: only localstorage is set up", provider)
		}
		p := filepath.Join(root, bucket)
		if err := os.MkdirAll(p, 0o755); err != nil {
			return nil, err
		}
		return fileblob.OpenBucket(p, &fileblob.Options{NoTempDir: true, Metadata: fileblob.MetadataDontWrite})
	}
}
