package boltstore

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"

	"github.com/scyllaops/scyllaops/store"
)

// CreateCluster implements store.ClusterStore.
func (s *Store) CreateCluster(ctx context.Context, c *store.Cluster) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := store.CheckCluster(c); err != nil {
		return invalid(err)
	}
	return s.update(ctx, func(tx *bolt.Tx) error {
		clusters, names := tx.Bucket(bClusters), tx.Bucket(bNames)
		if clusters.Get(c.ID[:]) != nil {
			return fmt.Errorf("cluster %s exists: %w", c.ID, store.ErrConflict)
		}
		if names.Get([]byte(c.Name)) != nil {
			return fmt.Errorf("cluster name %q is taken: %w", c.Name, store.ErrConflict)
		}
		if err := putJSON(clusters, c.ID[:], c); err != nil {
			return err
		}
		return names.Put([]byte(c.Name), c.ID[:])
	})
}

// UpdateCluster implements store.ClusterStore.
func (s *Store) UpdateCluster(ctx context.Context, c *store.Cluster) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := store.CheckCluster(c); err != nil {
		return invalid(err)
	}
	return s.update(ctx, func(tx *bolt.Tx) error {
		clusters, names := tx.Bucket(bClusters), tx.Bucket(bNames)
		data := clusters.Get(c.ID[:])
		if data == nil {
			return notFound("cluster", c.ID)
		}
		old, err := decodeCluster(data)
		if err != nil {
			return err
		}
		if id := names.Get([]byte(c.Name)); id != nil && !bytes.Equal(id, c.ID[:]) {
			return fmt.Errorf("cluster name %q is taken: %w", c.Name, store.ErrConflict)
		}
		if err := names.Delete([]byte(old.Name)); err != nil {
			return err
		}
		if err := putJSON(clusters, c.ID[:], c); err != nil {
			return err
		}
		return names.Put([]byte(c.Name), c.ID[:])
	})
}

// GetCluster implements store.ClusterStore.
func (s *Store) GetCluster(ctx context.Context, id uuid.UUID) (*store.Cluster, error) {
	var c *store.Cluster
	err := s.view(ctx, func(tx *bolt.Tx) error {
		data := tx.Bucket(bClusters).Get(id[:])
		if data == nil {
			return notFound("cluster", id)
		}
		var err error
		c, err = decodeCluster(data)
		return err
	})
	return c, err
}

// GetClusterByName implements store.ClusterStore.
func (s *Store) GetClusterByName(ctx context.Context, name string) (*store.Cluster, error) {
	var c *store.Cluster
	err := s.view(ctx, func(tx *bolt.Tx) error {
		id := tx.Bucket(bNames).Get([]byte(name))
		var data []byte
		if id != nil {
			data = tx.Bucket(bClusters).Get(id)
		}
		if data == nil {
			return notFound("cluster", fmt.Sprintf("%q", name))
		}
		var err error
		c, err = decodeCluster(data)
		return err
	})
	return c, err
}

// ListClusters implements store.ClusterStore. It scans the name index, so
// the clusters come out ordered by name.
func (s *Store) ListClusters(ctx context.Context) ([]*store.Cluster, error) {
	out := make([]*store.Cluster, 0)
	err := s.view(ctx, func(tx *bolt.Tx) error {
		clusters := tx.Bucket(bClusters)
		return tx.Bucket(bNames).ForEach(func(name, id []byte) error {
			data := clusters.Get(id)
			if data == nil {
				return fmt.Errorf("name index: cluster %q points to missing %x", name, id)
			}
			c, err := decodeCluster(data)
			if err != nil {
				return err
			}
			out = append(out, c)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteCluster implements store.ClusterStore.
func (s *Store) DeleteCluster(ctx context.Context, id uuid.UUID) error {
	return s.update(ctx, func(tx *bolt.Tx) error {
		clusters := tx.Bucket(bClusters)
		data := clusters.Get(id[:])
		if data == nil {
			return notFound("cluster", id)
		}
		c, err := decodeCluster(data)
		if err != nil {
			return err
		}
		keys, err := deletePrefix(tx.Bucket(bTasks), id[:])
		if err != nil {
			return err
		}
		for _, k := range keys {
			taskID, _ := uuid.FromBytes(k[16:32])
			if err := deleteTaskTx(tx, taskID); err != nil {
				return err
			}
		}
		if _, err := deletePrefix(tx.Bucket(bSecrets), id[:]); err != nil {
			return err
		}
		if err := tx.Bucket(bNames).Delete([]byte(c.Name)); err != nil {
			return err
		}
		return clusters.Delete(id[:])
	})
}

func secretKey(clusterID uuid.UUID, key string) []byte {
	return cat(clusterID[:], []byte(key))
}

// PutSecret implements store.SecretStore.
func (s *Store) PutSecret(ctx context.Context, clusterID uuid.UUID, key string, value []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := store.CheckSecretKey(clusterID, key); err != nil {
		return invalid(err)
	}
	return s.update(ctx, func(tx *bolt.Tx) error {
		if tx.Bucket(bClusters).Get(clusterID[:]) == nil {
			return notFound("cluster", clusterID)
		}
		// The 0x01 prefix keeps an empty value apart from a missing one.
		return tx.Bucket(bSecrets).Put(secretKey(clusterID, key), cat(present, value))
	})
}

// GetSecret implements store.SecretStore.
func (s *Store) GetSecret(ctx context.Context, clusterID uuid.UUID, key string) ([]byte, error) {
	var out []byte
	err := s.view(ctx, func(tx *bolt.Tx) error {
		v := tx.Bucket(bSecrets).Get(secretKey(clusterID, key))
		if len(v) == 0 {
			return notFound("secret", fmt.Sprintf("%s/%q", clusterID, key))
		}
		out = bytes.Clone(v[1:])
		return nil
	})
	return out, err
}

// DeleteSecret implements store.SecretStore.
func (s *Store) DeleteSecret(ctx context.Context, clusterID uuid.UUID, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := store.CheckSecretKey(clusterID, key); err != nil {
		return invalid(err)
	}
	return s.update(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bSecrets).Delete(secretKey(clusterID, key))
	})
}

// ListSecretKeys implements store.SecretStore.
func (s *Store) ListSecretKeys(ctx context.Context, clusterID uuid.UUID) ([]string, error) {
	out := make([]string, 0)
	err := s.view(ctx, func(tx *bolt.Tx) error {
		return prefixScan(tx.Bucket(bSecrets), clusterID[:], func(k, _ []byte) error {
			out = append(out, string(k[16:]))
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// CreateTask implements store.TaskStore.
func (s *Store) CreateTask(ctx context.Context, t *store.Task) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := store.CheckTask(t); err != nil {
		return invalid(err)
	}
	return s.update(ctx, func(tx *bolt.Tx) error {
		if tx.Bucket(bClusters).Get(t.ClusterID[:]) == nil {
			return notFound("cluster", t.ClusterID)
		}
		ids := tx.Bucket(bTaskIDs)
		if ids.Get(t.ID[:]) != nil {
			return fmt.Errorf("task %s exists: %w", t.ID, store.ErrConflict)
		}
		if err := checkTaskName(tx, t); err != nil {
			return err
		}
		if err := putJSON(tx.Bucket(bTasks), taskKey(t.ClusterID, t.ID), encodeTask(t)); err != nil {
			return err
		}
		return ids.Put(t.ID[:], t.ClusterID[:])
	})
}

// checkTaskName refuses a name used by another non-deleted task of the
// same cluster and type.
func checkTaskName(tx *bolt.Tx, t *store.Task) error {
	if t.Name == "" || t.Deleted {
		return nil
	}
	return prefixScan(tx.Bucket(bTasks), t.ClusterID[:], func(_, v []byte) error {
		o, err := decodeTask(v)
		if err != nil {
			return err
		}
		if o.ID != t.ID && !o.Deleted && o.Type == t.Type && o.Name == t.Name {
			return fmt.Errorf("task name %q is taken by %s task %s: %w", t.Name, o.Type, o.ID, store.ErrConflict)
		}
		return nil
	})
}

// UpdateTask implements store.TaskStore.
func (s *Store) UpdateTask(ctx context.Context, t *store.Task) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := store.CheckTask(t); err != nil {
		return invalid(err)
	}
	return s.update(ctx, func(tx *bolt.Tx) error {
		tasks := tx.Bucket(bTasks)
		key := taskKey(t.ClusterID, t.ID)
		if tasks.Get(key) == nil {
			return notFound("task", t.ID)
		}
		if err := checkTaskName(tx, t); err != nil {
			return err
		}
		return putJSON(tasks, key, encodeTask(t))
	})
}

// GetTask implements store.TaskStore.
func (s *Store) GetTask(ctx context.Context, clusterID, taskID uuid.UUID) (*store.Task, error) {
	var t *store.Task
	err := s.view(ctx, func(tx *bolt.Tx) error {
		data := tx.Bucket(bTasks).Get(taskKey(clusterID, taskID))
		if data == nil {
			return notFound("task", taskID)
		}
		var err error
		t, err = decodeTask(data)
		return err
	})
	return t, err
}

// ListTasks implements store.TaskStore.
func (s *Store) ListTasks(ctx context.Context, clusterID uuid.UUID) ([]*store.Task, error) {
	out := make([]*store.Task, 0)
	var prefix []byte
	if clusterID != uuid.Nil {
		prefix = clusterID[:]
	}
	err := s.view(ctx, func(tx *bolt.Tx) error {
		return prefixScan(tx.Bucket(bTasks), prefix, func(_, v []byte) error {
			t, err := decodeTask(v)
			if err != nil {
				return err
			}
			out = append(out, t)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	// Keys are in ClusterID order already; sort within clusters.
	slices.SortStableFunc(out, func(a, b *store.Task) int {
		return cmp.Or(
			bytes.Compare(a.ClusterID[:], b.ClusterID[:]),
			strings.Compare(a.Type, b.Type),
			strings.Compare(a.Name, b.Name),
			bytes.Compare(a.ID[:], b.ID[:]),
		)
	})
	return out, nil
}

// DeleteTask implements store.TaskStore.
func (s *Store) DeleteTask(ctx context.Context, clusterID, taskID uuid.UUID) error {
	return s.update(ctx, func(tx *bolt.Tx) error {
		key := taskKey(clusterID, taskID)
		tasks := tx.Bucket(bTasks)
		if tasks.Get(key) == nil {
			return notFound("task", taskID)
		}
		if err := tasks.Delete(key); err != nil {
			return err
		}
		return deleteTaskTx(tx, taskID)
	})
}

// deleteTaskTx removes what hangs off a task whose record is already
// deleted: its ID index entry, runs, unfinished-index entries and
// progress rows.
func deleteTaskTx(tx *bolt.Tx, taskID uuid.UUID) error {
	if err := tx.Bucket(bTaskIDs).Delete(taskID[:]); err != nil {
		return err
	}
	keys, err := deletePrefix(tx.Bucket(bRuns), taskID[:])
	if err != nil {
		return err
	}
	unfinished, progress := tx.Bucket(bUnfinished), tx.Bucket(bProgress)
	for _, k := range keys {
		runID, _ := uuid.FromBytes(k[24:40])
		if err := unfinished.Delete(unfinishedKey(taskID, runID)); err != nil {
			return err
		}
		if _, err := deletePrefix(progress, runID[:]); err != nil {
			return err
		}
	}
	return nil
}
