package main

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/scyllaops/scyllaops/restapi"
)

// Version is the client version; set with -ldflags "-X main.Version=…".
var Version = restapi.DefaultVersion

// app holds what every command needs.
type app struct {
	stdout, stderr io.Writer
	getenv         func(string) string

	apiURL, certFile, keyFile string
	format                    string
	cluster                   string

	client *restapi.Client
}

func newRootCmd(stdout, stderr io.Writer, getenv func(string) string) *cobra.Command {
	a := &app{stdout: stdout, stderr: stderr, getenv: getenv}
	root := &cobra.Command{
		Use:           "sctool",
		Short:         "Scylla Manager compatible command line over scyllaops",
		Long:          "scyllaops " + Version + " (sctool compatible).\nDocumentation of the commands: https://manager.docs.scylladb.com/ (sctool).",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return a.init()
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	pf := root.PersistentFlags()
	pf.StringVar(&a.apiURL, "api-url", "", "Base `URL` of the server (envvar SCYLLA_MANAGER_API_URL) (default \""+restapi.DefaultAPIURL+"\")")
	pf.StringVar(&a.certFile, "api-cert-file", "", "File `path` to HTTPS client certificate (envvar SCYLLA_MANAGER_API_CERT_FILE)")
	pf.StringVar(&a.keyFile, "api-key-file", "", "File `path` to HTTPS client key (envvar SCYLLA_MANAGER_API_KEY_FILE)")
	pf.StringVar(&a.format, "format", "table", "Output format: table, json or yaml")
	_ = root.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"table", "json", "yaml"}, cobra.ShellCompDirectiveNoFileComp))

	root.AddCommand(
		a.clusterCmd(), a.statusCmd(), a.tasksCmd(), a.infoCmd(), a.progressCmd(),
		a.startCmd(), a.stopCmd(), a.suspendCmd(), a.resumeCmd(), a.backupCmd(), a.repairCmd(), a.restoreCmd(), a.versionCmd(),
		a.storeBackupCmd(), // scyllaops-specific
	)
	return root
}

func (a *app) init() error {
	if a.apiURL == "" {
		a.apiURL = a.getenv("SCYLLA_MANAGER_API_URL")
	}
	if a.apiURL == "" {
		a.apiURL = restapi.DefaultAPIURL
	}
	if a.certFile == "" {
		a.certFile = a.getenv("SCYLLA_MANAGER_API_CERT_FILE")
	}
	if a.keyFile == "" {
		a.keyFile = a.getenv("SCYLLA_MANAGER_API_KEY_FILE")
	}
	switch a.format {
	case "table", "json", "yaml":
	default:
		return fmt.Errorf("invalid --format %q: want table, json or yaml", a.format)
	}
	hc := &http.Client{}
	if strings.HasPrefix(a.apiURL, "https:") {
		// As sctool: the server's certificate is not verified; a client
		// certificate is presented when given.
		tc := &tls.Config{InsecureSkipVerify: true} //nolint:gosec // as sctool does
		if a.certFile != "" || a.keyFile != "" {
			cert, err := tls.LoadX509KeyPair(a.certFile, a.keyFile)
			if err != nil {
				return fmt.Errorf("--api-cert-file/--api-key-file: %w", err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		hc.Transport = &http.Transport{TLSClientConfig: tc}
	}
	c, err := restapi.NewClient(a.apiURL, hc)
	if err != nil {
		return err
	}
	a.client = c
	return nil
}

// clusterFlag adds -c/--cluster to cmd.
func (a *app) clusterFlag(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&a.cluster, "cluster", "c", "", "The target cluster `name or ID` (envvar SCYLLA_MANAGER_CLUSTER)")
	_ = cmd.RegisterFlagCompletionFunc("cluster", func(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
		if a.client == nil && a.init() != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		cs, err := a.client.ListClusters(cmd.Context())
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []string
		for _, c := range cs {
			out = append(out, c.Name+"\t"+c.ID)
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	})
}

// requireCluster returns the selected cluster.
func (a *app) requireCluster() (string, error) {
	if a.cluster == "" {
		a.cluster = a.getenv("SCYLLA_MANAGER_CLUSTER")
	}
	if a.cluster == "" {
		return "", errors.New("missing cluster: use --cluster/-c or set SCYLLA_MANAGER_CLUSTER")
	}
	return a.cluster, nil
}

// structured prints v as JSON or YAML when --format asks for it and
// reports whether it did.
func (a *app) structured(v any) (bool, error) {
	switch a.format {
	case "json":
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		return true, enc.Encode(v)
	case "yaml":
		// Through JSON, so the YAML keys are the API's JSON names.
		b, err := json.Marshal(v)
		if err != nil {
			return true, err
		}
		var g any
		if err := json.Unmarshal(b, &g); err != nil {
			return true, err
		}
		out, err := yaml.Marshal(g)
		if err != nil {
			return true, err
		}
		_, err = a.stdout.Write(out)
		return true, err
	}
	return false, nil
}

func (a *app) printf(format string, args ...any) { fmt.Fprintf(a.stdout, format, args...) }
