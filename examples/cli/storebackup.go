package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
)

// storeBackupCmd is scyllaops-specific (sctool has no such command): a
// consistent copy of the server's embedded store, made while it runs.
func (a *app) storeBackupCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "store-backup",
		Short: "Copy the server's embedded store (state.db) while it runs (scyllaops)",
		Long: "Copy the server's embedded store (state.db) while it runs, consistently, to a local file.\n" +
			"To restore: stop the server, replace <data_dir>/state.db with the copy, start the server.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return errors.New("invalid --output: want the path of the file to write, e.g. --output state-backup.db")
			}
			tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".tmp*")
			if err != nil {
				return fmt.Errorf("store-backup: %w", err)
			}
			defer os.Remove(tmp.Name()) //nolint:errcheck // gone after the rename
			n, err := a.client.BackupStore(cmd.Context(), tmp)
			if err == nil {
				err = tmp.Sync()
			}
			if cerr := tmp.Close(); err == nil {
				err = cerr
			}
			if err == nil {
				err = os.Rename(tmp.Name(), out)
			}
			if err != nil {
				return fmt.Errorf("store-backup: %w", err)
			}
			a.printf("Store copied to %s (%d bytes)\n", out, n)
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "`path` of the copy to write (written atomically, mode 0600)")
	return cmd
}
