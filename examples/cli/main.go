// Command cli is an sctool-compatible command line over the scyllaops
// REST API (package restapi's Client): the command and flag names of
// sctool for what scyllaops implements.
//
//	go run ./examples/cli --api-url http://127.0.0.1:5080/api/v1 cluster list
//
// The API URL comes from --api-url, else SCYLLA_MANAGER_API_URL, else
// http://127.0.0.1:5080/api/v1; the cluster from -c/--cluster, else
// SCYLLA_MANAGER_CLUSTER. --format json|yaml|table selects the output.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// run executes the CLI with args and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	cmd := newRootCmd(stdout, stderr, getenv) //nolint:contextcheck // commands get ctx from ExecuteContext
	cmd.SetArgs(args)
	if err := cmd.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(stderr, "Error:", err)
		return 1
	}
	return 0
}
