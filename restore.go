package scyllaops

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"

	"github.com/datastax/go-cassandra-native-protocol/primitive"
	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/agentclient"
	"github.com/scyllaops/scyllaops/internal/cqlconn"
	"github.com/scyllaops/scyllaops/repair"
	"github.com/scyllaops/scyllaops/restore"
	"github.com/scyllaops/scyllaops/store"
)

// RestoreTaskType is the task type of restores.
const RestoreTaskType = "restore"

// OneToOneRestoreTaskType is the task type of 1-1 restores (Scylla
// Manager's 1_1_restore): restore properties with nodes_mapping.
const OneToOneRestoreTaskType = "1_1_restore"

// newRestore builds the restore service and registers its Runner.
func (m *Manager) newRestore(opts restore.Options) error {
	if opts.Logger == nil {
		opts.Logger = m.opts.Logger
	}
	if opts.Registerer == nil {
		opts.Registerer = m.opts.Registerer
	}
	if opts.CQL == nil {
		opts.CQL = restoreCQL{m}
	}
	if opts.Repair == nil {
		opts.Repair = restoreRepairer{m}
	}
	svc, err := restore.New(m.st, restoreClusters{m}, opts)
	if err != nil {
		return fmt.Errorf("scyllaops: %w", err)
	}
	m.restore = svc
	m.sched.Register(RestoreTaskType, restoreRunner{svc})
	// A 1-1 restore is a restore with nodes_mapping.
	m.sched.Register(OneToOneRestoreTaskType, restoreRunner{svc})
	return nil
}

// Restore returns the restore service: dry runs (GetTarget) and run
// progress (RunProgress).
func (m *Manager) Restore() *restore.Service { return m.restore }

// restoreRepairer is the restore's REPAIR stage: a repair of the restored
// tables by the repair service (services never import each other).
type restoreRepairer struct{ m *Manager }

// RepairTables implements restore.Repairer.
func (r restoreRepairer) RepairTables(ctx context.Context, clusterID uuid.UUID, tables []string) error {
	return r.m.RepairTables(ctx, clusterID, tables, repair.TablesOptions{})
}

// restoreRunner adapts the service to the scheduler: Run, properties
// validation, the cluster-aware check at task creation and progress.
type restoreRunner struct{ svc *restore.Service }

func (r restoreRunner) Run(ctx context.Context, clusterID, taskID, runID uuid.UUID, properties json.RawMessage) error {
	return r.svc.Run(ctx, clusterID, taskID, runID, properties)
}

func (r restoreRunner) ValidateProperties(properties json.RawMessage) error {
	return r.svc.ValidateProperties(properties)
}

// ValidateTarget implements TargetValidator: the dry run, so a task that
// cannot run (unknown tag, location, keyspace or DC, missing tables) is
// refused before it is stored.
func (r restoreRunner) ValidateTarget(ctx context.Context, clusterID uuid.UUID, properties json.RawMessage) error {
	_, err := r.svc.GetTarget(ctx, clusterID, properties)
	if errors.Is(err, restore.ErrIncompleteSnapshot) && !errors.Is(err, store.ErrInvalid) {
		// A snapshot that can never be restored is bad input for the
		// task (400), not a passing failure to reach the cluster.
		return fmt.Errorf("%w (%w)", err, store.ErrInvalid)
	}
	return err
}

// Progress implements scheduler.ProgressReader.
func (r restoreRunner) Progress(ctx context.Context, _, _, runID uuid.UUID) (json.RawMessage, error) {
	p, err := r.svc.RunProgress(ctx, runID)
	if err != nil {
		return nil, err
	}
	return json.Marshal(p)
}

// restoreCQL runs the restore's CQL statements on the first node that
// answers, with the cluster's credentials.
type restoreCQL struct{ m *Manager }

// restoreClusters is the restore's ClusterResolver: the contact is the
// cluster's first host.
type restoreClusters struct{ m *Manager }

// Client implements restore.ClusterResolver.
func (r restoreClusters) Client(ctx context.Context, clusterID uuid.UUID) (*agentclient.Client, string, error) {
	c, hosts, err := r.m.ClusterClient(ctx, clusterID)
	if err != nil {
		return nil, "", err
	}
	if len(hosts) == 0 {
		return nil, "", fmt.Errorf("scyllaops: cluster %s has no known host", clusterID)
	}
	return c, hosts[0], nil
}

// DescribeSchema implements restore.CQL.
func (c restoreCQL) DescribeSchema(ctx context.Context, clusterID uuid.UUID) ([]restore.SchemaRow, error) {
	rows, err := c.Query(ctx, clusterID, "DESCRIBE SCHEMA WITH INTERNALS")
	if err != nil {
		return nil, err
	}
	out := make([]restore.SchemaRow, 0, len(rows))
	for _, r := range rows {
		if len(r) < 4 {
			return nil, fmt.Errorf("scyllaops: DESCRIBE SCHEMA answered %d columns, want 4", len(r))
		}
		out = append(out, restore.SchemaRow{Keyspace: r[0], Type: r[1], Name: r[2], CQLStmt: r[3]})
	}
	return out, nil
}

// Exec implements restore.CQL.
func (c restoreCQL) Exec(ctx context.Context, clusterID uuid.UUID, stmt string) error {
	_, err := c.Query(ctx, clusterID, stmt)
	return err
}

// Query implements restore.CQL.
func (c restoreCQL) Query(ctx context.Context, clusterID uuid.UUID, stmt string) ([][]string, error) {
	cl, hosts, err := c.m.ClusterClient(ctx, clusterID)
	if err != nil {
		return nil, err
	}
	user, pass, err := c.m.CQLCredentials(ctx, clusterID)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, h := range hosts {
		rows, err := c.queryOn(ctx, cl, h, user, pass, stmt)
		var se *cqlconn.ServerError
		switch {
		case err == nil:
			return rows, nil
		case errors.As(err, &se) && se.Code == primitive.ErrorCodeAlreadyExists:
			return nil, fmt.Errorf("scyllaops: %s: %w", se.Msg, restore.ErrAlreadyExists)
		case errors.As(err, &se):
			return nil, fmt.Errorf("scyllaops: cql on %s: %w", h, err)
		}
		errs = append(errs, fmt.Errorf("%s: %w", h, err))
	}
	return nil, fmt.Errorf("scyllaops: cql on cluster %s: no node answered: %w", clusterID, errors.Join(errs...))
}

func (c restoreCQL) queryOn(ctx context.Context, cl *agentclient.Client, host, user, pass, stmt string) ([][]string, error) {
	addr := net.JoinHostPort(host, "9042")
	if ni, err := cl.NodeInfo(ctx, host); err == nil {
		a := cmp.Or(ni.BroadcastRPCAddress, ni.RPCAddress, ni.ListenAddress)
		if ip := net.ParseIP(a); ip == nil || ip.IsUnspecified() {
			a = host
		}
		port := ni.NativeTransportPort
		if port == "" || port == "0" {
			port = "9042"
		}
		addr = net.JoinHostPort(a, port)
	}
	ctx, cancel := context.WithTimeout(ctx, c.m.opts.ConnectTimeout)
	defer cancel()
	conn, err := cqlconn.Open(ctx, c.m.opts.CQLDial, addr, nil, user, pass)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	_, rows, err := conn.Query(stmt)
	return rows, err
}
