package scyllaops_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"

	"github.com/scyllaops/scyllaops"
	"github.com/scyllaops/scyllaops/scyllatest"
	"github.com/scyllaops/scyllaops/store"
	"github.com/scyllaops/scyllaops/store/boltstore"
)

// ExampleNew runs the README's "Using the library" snippet (the body of
// embed between its README markers; TestREADMESnippet keeps the README's
// copy identical).
func ExampleNew() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "scyllaops-readme-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	if err := embed(ctx, dir); err != nil {
		fmt.Println("error:", err)
	}
	// Output:
	// cluster prod: 3 nodes, auth token set
	// task backup/nightly, cron 0 3 * * *
	// backup run: DONE
}

func embed(ctx context.Context, dir string) error {
	// README:begin
	// A simulated cluster (package scyllatest) stands in for ScyllaDB: its
	// nodes sit behind the real agent, which writes backups of the
	// "localstorage:<bucket>" locations to directories under dir.
	sim, err := scyllatest.Start(scyllatest.Options{
		OpenBucket: func(_ context.Context, _, bucket string) (*blob.Bucket, error) {
			return fileblob.OpenBucket(filepath.Join(dir, bucket), &fileblob.Options{CreateDir: true, NoTempDir: true})
		},
	})
	if err != nil {
		return err
	}
	defer sim.Close()

	st, err := boltstore.Open(ctx, filepath.Join(dir, "state.db"), boltstore.Options{}) // or memstore.New(), cqlstore.Open(…)
	if err != nil {
		return err
	}
	defer st.Close()
	m, err := scyllaops.New(st, sim.Transport(), scyllaops.Options{ // a nil transport: TCP+TLS to real agents
		CQLDial: sim.CQLDialer().DialContext, // the simulated nodes' CQL; leave unset for a real cluster
		Logger:  slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return err
	}
	defer m.Close()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- m.Run(runCtx) }() // the scheduler; Run returns after its goroutines exit
	defer func() { stop(); <-done }()

	c, err := m.CreateCluster(ctx, scyllaops.Cluster{Name: "prod", Host: sim.ContactHost(), AuthToken: sim.AuthToken()})
	if err != nil {
		return err
	}
	fmt.Printf("cluster %s: %d nodes, auth token %s\n", c.Name, len(c.KnownHosts), c.AuthToken)
	t, err := m.CreateTask(ctx, store.Task{ClusterID: c.ID, Type: "backup", Name: "nightly", Enabled: true,
		Schedule: store.Schedule{Cron: "0 3 * * *"}, Properties: json.RawMessage(`{"location":["localstorage:backups"]}`)})
	if err != nil {
		return err
	}
	fmt.Printf("task %s/%s, cron %s\n", t.Type, t.Name, t.Schedule.Cron)
	if err := m.StartTask(ctx, c.ID, t.ID, false); err != nil { // run it now, not at 03:00
		return err
	}
	var run store.Run
	for !run.Status.Final() && ctx.Err() == nil { // wait for the run to end
		time.Sleep(100 * time.Millisecond)
		run, _, _ = m.RunProgress(ctx, c.ID, t.ID, "latest")
	}
	fmt.Println("backup run:", run.Status)
	// README:end
	return nil
}

// TestREADMESnippet: the README shows embed's body verbatim.
func TestREADMESnippet(t *testing.T) {
	src, err := os.ReadFile("example_readme_test.go")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, body, ok := strings.Cut(string(src), "\t// README:begin\n")
	body, _, ok2 := strings.Cut(body, "\t// README:end\n")
	if !ok || !ok2 {
		t.Fatal("README markers not found in example_readme_test.go")
	}
	var lines []string
	for l := range strings.SplitSeq(strings.TrimSuffix(body, "\n"), "\n") {
		lines = append(lines, strings.TrimPrefix(l, "\t"))
	}
	want := "```go\n" + strings.Join(lines, "\n") + "\n```"
	if !strings.Contains(string(readme), want) {
		t.Fatalf("README.md does not show the example verbatim; its \"Using the library\" block must be:\n%s", want)
	}
}

func TestNewRefusesNilStore(t *testing.T) {
	var failed *boltstore.Store // what a failed boltstore.Open returns
	for name, st := range map[string]store.Store{"nil": nil, "typed nil": failed} {
		if _, err := scyllaops.New(st, nil, scyllaops.Options{}); err == nil || !strings.Contains(err.Error(), "store") {
			t.Errorf("New(%s store) = %v, want an error naming the store", name, err)
		}
	}
}
