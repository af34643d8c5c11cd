package agentclient_test

import (
	"context"
	"fmt"
	"os"
	"strings"

	"gocloud.dev/blob"
	"gocloud.dev/blob/memblob"

	"github.com/scyllaops/scyllaops/agent"
	"github.com/scyllaops/scyllaops/agentclient"
)

// Example drives a node agent in-process: no sockets, the same calls as
// over TCP+TLS.
func Example() {
	ctx := context.Background()
	dataDir, _ := os.MkdirTemp("", "agent-example")
	defer os.RemoveAll(dataDir)
	bucket := memblob.OpenBucket(nil)
	defer bucket.Close()

	a, err := agent.New(agent.Options{
		AuthToken:  "token",
		DataDir:    dataDir,
		OpenBucket: func(context.Context, string, string) (*blob.Bucket, error) { return bucket, nil },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer a.Close()

	tr := agentclient.NewInProcessTransport()
	tr.Register("10.0.0.1", a)
	c, err := agentclient.New(tr, agentclient.Options{AuthToken: "token"})
	if err != nil {
		fmt.Println(err)
		return
	}
	const meta = "backup/meta/cluster/c1/manifest.json"
	if err := c.Put(ctx, "10.0.0.1", "s3:backups", meta, strings.NewReader(`{"version":"v2"}`)); err != nil {
		fmt.Println(err)
		return
	}
	b, _ := c.Cat(ctx, "10.0.0.1", "s3:backups", meta)
	fmt.Println(string(b))
	_ = c.List(ctx, "10.0.0.1", agentclient.ListOptions{Fs: "s3:backups", Remote: "backup", Opt: &agentclient.ListOpt{Recurse: true}},
		func(it agentclient.ListItem) error {
			fmt.Println(it.Path, it.Size)
			return nil
		})
	// Output:
	// {"version":"v2"}
	// meta/cluster/c1/manifest.json 16
}
