package restapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"

	"github.com/scyllaops/scyllaops/restapi"
	"github.com/scyllaops/scyllaops/scyllatest"
)

// newBackupEnv starts a simulated cluster whose agents open
// "localstorage:<bucket>" as directories, a running Manager and the
// handler, and adds the cluster as "sim".
func newBackupEnv(t *testing.T) (*env, *scyllatest.Cluster, string) {
	t.Helper()
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "bucket"), 0o755); err != nil {
		t.Fatal(err)
	}
	e, sc := newSimEnv(t, scyllatest.Options{OpenBucket: func(ctx context.Context, provider, bucket string) (*blob.Bucket, error) {
		return fileblob.OpenBucket(filepath.Join(root, bucket), &fileblob.Options{NoTempDir: true})
	}})
	e.run()
	e.addCluster(sc)
	return e, sc, "localstorage:bucket"
}

// run runs the Manager until the test ends.
func (e *env) run() {
	ctx, cancel := context.WithCancel(e.t.Context())
	done := make(chan error, 1)
	go func() { done <- e.m.Run(ctx) }()
	e.t.Cleanup(func() {
		cancel()
		<-done
	})
}

// waitRun polls the latest run until it is final.
func (e *env) waitRun(path string, schema string) restapi.TaskRunProgress {
	e.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		_, b := e.call("GET", path+"/latest", "", "", http.StatusOK, schema)
		var p restapi.TaskRunProgress
		if err := json.Unmarshal(b, &p); err != nil {
			e.t.Fatal(err)
		}
		switch p.Run.Status {
		case "DONE", "ERROR", "STOPPED", "ABORTED":
			return p
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s: run not final after a minute: %s", path, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitRuns waits (up to a minute) until the task at path has at least n
// runs in its history, all final.
func (e *env) waitRuns(path string, n int) {
	e.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		_, b := e.call("GET", path+"/history", "", "", http.StatusOK, "task_history")
		var runs []restapi.TaskRun
		if err := json.Unmarshal(b, &runs); err != nil {
			e.t.Fatal(err)
		}
		final := len(runs) >= n
		for _, r := range runs {
			switch r.Status {
			case "DONE", "ERROR", "STOPPED", "ABORTED":
			default:
				final = false
			}
		}
		if final {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s: not %d final runs after a minute: %s", path, n, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
