package backup

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/internal/backupspec"
	"github.com/scyllaops/scyllaops/topology"
)

// NodeSnapshots are the snapshot tags DeleteLocalSnapshots deleted on one
// node.
type NodeSnapshots struct {
	// Host is the node's address.
	Host string
	// Tags are the deleted sm_* snapshot tags, sorted.
	Tags []string
}

// DeleteLocalSnapshots deletes every snapshot with a backup tag
// (sm_YYYYMMDDhhmmssUTC, backupspec.IsSnapshotTag) from the disks of every
// node of the cluster, as Scylla Manager's DELETE backups/local_snapshots:
// any snapshot with that pattern is taken as the Manager's own. Other
// snapshots stay. It returns what it deleted, one entry per node (sorted
// by host, nodes with nothing deleted included).
//
// Every node is tried, also when others fail: a node that cannot be
// listed or cleaned (a node down, say) is an error naming it, joined with
// the others, and the nodes that answered are cleaned anyway. A snapshot
// gone meanwhile is no error. Like Scylla Manager it takes no lease: the
// snapshot of a backup running now is deleted too, and that run fails.
func (s *Service) DeleteLocalSnapshots(ctx context.Context, clusterID uuid.UUID) ([]NodeSnapshots, error) {
	c, contact, err := s.client(ctx, clusterID)
	if err != nil {
		return nil, err
	}
	ns, err := topology.ListNodes(ctx, c, contact, topology.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("backup: delete local snapshots: list nodes: %w", err)
	}
	var (
		mu  sync.Mutex
		out []NodeSnapshots
	)
	hosts := make([]Host, 0, len(ns))
	for _, n := range ns {
		hosts = append(hosts, Host{IP: n.IP, HostID: n.HostID, DC: n.DC, Rack: n.Rack})
	}
	err = forEachHost(ctx, hosts, nil, func(ctx context.Context, h Host) error {
		snaps, err := c.Snapshots(ctx, h.IP)
		if err != nil {
			return fmt.Errorf("backup: delete local snapshots: list snapshots on node %s: %w", h.IP, err)
		}
		ns := NodeSnapshots{Host: h.IP, Tags: []string{}}
		var errs []error
		for _, sn := range snaps {
			if !backupspec.IsSnapshotTag(sn.Key) {
				continue
			}
			if err := c.DeleteSnapshot(ctx, h.IP, sn.Key, ""); err != nil && !isNotFound(err) {
				errs = append(errs, fmt.Errorf("backup: delete local snapshot %s on node %s: %w", sn.Key, h.IP, err))
				continue
			}
			ns.Tags = append(ns.Tags, sn.Key)
		}
		sort.Strings(ns.Tags)
		mu.Lock()
		out = append(out, ns)
		mu.Unlock()
		if len(ns.Tags) > 0 {
			s.log.InfoContext(ctx, "deleted local snapshots", "cluster", clusterID, "host", h.IP, "tags", ns.Tags)
		}
		return errors.Join(errs...)
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Host < out[j].Host })
	return out, err
}
