package main

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/scyllaops/scyllaops/restapi"
)

type clusterFlags struct {
	id, name, host, authToken, user, password string
	altKey, altSecret, certFile, keyFile      string
	port                                      int64
	forceTLSDisabled, forceNonSSL, noRepair   bool
	labels                                    []string
	delCQL, delAlt, delCert                   bool
}

func (f *clusterFlags) register(cmd *cobra.Command, update bool) {
	fl := cmd.Flags()
	if !update {
		fl.StringVar(&f.id, "id", "", "Explicitly specify cluster `ID` (UUID)")
	}
	fl.StringVarP(&f.name, "name", "n", "", "Cluster `name`")
	fl.StringVar(&f.host, "host", "", "Hostname or IP of one of the cluster nodes")
	fl.Int64Var(&f.port, "port", 10001, "Agent port")
	fl.StringVar(&f.authToken, "auth-token", "", "The authentication `token` of the agents")
	fl.StringVarP(&f.user, "username", "u", "", "CQL `user name`")
	fl.StringVarP(&f.password, "password", "p", "", "CQL `password`")
	fl.StringVar(&f.altKey, "alternator-access-key-id", "", "Alternator access key ID")
	fl.StringVar(&f.altSecret, "alternator-secret-access-key", "", "Alternator secret access key")
	fl.StringVar(&f.certFile, "ssl-user-cert-file", "", "File `path` to the client certificate (PEM)")
	fl.StringVar(&f.keyFile, "ssl-user-key-file", "", "File `path` to the client key (PEM)")
	fl.BoolVar(&f.forceTLSDisabled, "force-tls-disabled", false, "Disable TLS for CQL and Alternator even if the node enables it")
	fl.BoolVar(&f.forceNonSSL, "force-non-ssl-session-port", false, "Use the non-SSL CQL port even with TLS")
	fl.StringSliceVar(&f.labels, "label", nil, "Labels as key=value, or key- to remove a label")
	if update {
		fl.BoolVar(&f.delCQL, "delete-cql-credentials", false, "Delete the CQL credentials")
		fl.BoolVar(&f.delAlt, "delete-alternator-credentials", false, "Delete the Alternator credentials")
		fl.BoolVar(&f.delCert, "delete-ssl-user-cert", false, "Delete the client certificate and key")
	} else {
		fl.BoolVar(&f.noRepair, "without-repair", false, "Do not create the weekly repair task")
	}
}

// apply sets the flags the user gave on c.
func (f *clusterFlags) apply(cmd *cobra.Command, c *restapi.Cluster) error {
	ch := cmd.Flags().Changed
	if ch("id") {
		c.ID = f.id
	}
	if ch("name") {
		c.Name = f.name
	}
	if ch("host") {
		c.Host = f.host
	}
	if ch("port") || c.Port == 0 {
		c.Port = f.port
	}
	if ch("auth-token") {
		c.AuthToken = f.authToken
	}
	if ch("username") {
		c.Username = f.user
	}
	if ch("password") {
		c.Password = f.password
	}
	if ch("alternator-access-key-id") {
		c.AlternatorAccessKeyID = f.altKey
	}
	if ch("alternator-secret-access-key") {
		c.AlternatorSecretAccessKey = f.altSecret
	}
	if f.certFile != "" || f.keyFile != "" {
		if f.certFile == "" || f.keyFile == "" {
			return fmt.Errorf("--ssl-user-cert-file and --ssl-user-key-file go together")
		}
		var err error
		if c.SSLUserCertFile, err = os.ReadFile(f.certFile); err != nil {
			return err
		}
		if c.SSLUserKeyFile, err = os.ReadFile(f.keyFile); err != nil {
			return err
		}
	}
	if ch("force-tls-disabled") {
		c.ForceTLSDisabled = f.forceTLSDisabled
	}
	if ch("force-non-ssl-session-port") {
		c.ForceNonSSLSessionPort = f.forceNonSSL
	}
	c.WithoutRepair = f.noRepair
	var err error
	c.Labels, err = applyLabels(c.Labels, f.labels)
	return err
}

// applyLabels applies k=v and k- edits.
func applyLabels(m map[string]string, edits []string) (map[string]string, error) {
	if len(edits) == 0 {
		return m, nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	for _, e := range edits {
		if k, ok := strings.CutSuffix(e, "-"); ok && !strings.Contains(k, "=") {
			delete(out, k)
			continue
		}
		k, v, ok := strings.Cut(e, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("invalid --label %q: want key=value or key-", e)
		}
		out[k] = v
	}
	return out, nil
}

func labelsString(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, ", ")
}

func (a *app) clusterCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "cluster", Short: "Add or delete clusters"}
	cmd.AddCommand(a.clusterAddCmd(), a.clusterUpdateCmd(), a.clusterDeleteCmd(), a.clusterListCmd())
	return cmd
}

func (a *app) clusterAddCmd() *cobra.Command {
	f := &clusterFlags{}
	cmd := &cobra.Command{
		Use:   "add --host <IP> --auth-token <token> [--name <name>]",
		Short: "Add a cluster to manager",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.host == "" {
				return fmt.Errorf("required flag \"host\" not set")
			}
			var c restapi.Cluster
			if err := f.apply(cmd, &c); err != nil {
				return err
			}
			id, err := a.client.CreateCluster(cmd.Context(), c)
			if err != nil {
				return err
			}
			if ok, err := a.structured(map[string]string{"id": id}); ok {
				return err
			}
			a.printf("%s\n", id)
			a.printf(` __  
/  \     Cluster added! You can set it as default, by exporting its name or ID as env variable:
@  @     $ export SCYLLA_MANAGER_CLUSTER=%s
|  |     $ export SCYLLA_MANAGER_CLUSTER=<name>
|| |/    
|| ||    Now run:
|\_/|    $ sctool status -c %s
\___/    $ sctool tasks -c %s
`, id, id, id)
			return nil
		},
	}
	f.register(cmd, false)
	return cmd
}

func (a *app) clusterUpdateCmd() *cobra.Command {
	f := &clusterFlags{}
	cmd := &cobra.Command{
		Use:   "update --cluster <id|name> [flags]",
		Short: "Modify a cluster",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := a.requireCluster()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if f.delCQL || f.delAlt || f.delCert {
				if err := a.client.DeleteCluster(ctx, cl, restapi.DeleteClusterOptions{CQLCreds: f.delCQL, AlternatorCreds: f.delAlt, SSLUserCert: f.delCert}); err != nil {
					return err
				}
			}
			c, err := a.client.GetCluster(ctx, cl)
			if err != nil {
				return err
			}
			if err := f.apply(cmd, &c); err != nil {
				return err
			}
			c.WithoutRepair = false
			out, err := a.client.UpdateCluster(ctx, cl, c)
			if err != nil {
				return err
			}
			_, err = a.structured(out)
			return err
		},
	}
	a.clusterFlag(cmd)
	f.register(cmd, true)
	return cmd
}

func (a *app) clusterDeleteCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "delete --cluster <id|name>",
		Short: "Remove a cluster from manager",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := a.requireCluster()
			if err != nil {
				return err
			}
			return a.client.DeleteCluster(cmd.Context(), cl, restapi.DeleteClusterOptions{})
		},
	}
	a.clusterFlag(cmd)
	return cmd
}

func (a *app) clusterListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "Show managed clusters",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cs, err := a.client.ListClusters(cmd.Context())
			if err != nil {
				return err
			}
			if ok, err := a.structured(cs); ok {
				return err
			}
			t := newTable("ID", "Name", "Labels", "Port", "Credentials")
			for _, c := range cs {
				creds := ""
				if c.Username != "" {
					creds = "set"
				}
				t.add(c.ID, c.Name, labelsString(c.Labels), c.Port, creds)
			}
			a.printf("%s", t)
			return nil
		},
	}
}
