package cqlstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gocql/gocql"
	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/store"
)

const clusterCols = "id, name, host, port, labels, known_hosts, force_tls_disabled, force_non_ssl_session_port, created_at, updated_at"

func scanCluster(it *gocql.Iter) (*store.Cluster, bool) {
	var c store.Cluster
	var id gocql.UUID
	if !it.Scan(&id, &c.Name, &c.Host, &c.Port, &c.Labels, &c.KnownHosts, &c.ForceTLSDisabled,
		&c.ForceNonSSLSessionPort, &c.CreatedAt, &c.UpdatedAt) {
		return nil, false
	}
	c.ID = uuid.UUID(id)
	c.CreatedAt = utc(c.CreatedAt)
	c.UpdatedAt = utc(c.UpdatedAt)
	return &c, true
}

// utc returns t in UTC, keeping the zero time zero.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

func (s *Store) getCluster(ctx context.Context, id uuid.UUID) (*store.Cluster, error) {
	it := s.query(ctx, "SELECT "+clusterCols+" FROM cluster WHERE id = ?", gocql.UUID(id)).Iter()
	c, ok := scanCluster(it)
	if err := it.Close(); err != nil {
		return nil, s.dbErr("get cluster "+id.String(), err)
	}
	if !ok {
		return nil, fmt.Errorf("cqlstore: cluster %s: %w", id, store.ErrNotFound)
	}
	return c, nil
}

// claimClusterName makes id the owner of name.
func (s *Store) claimClusterName(ctx context.Context, name string, id uuid.UUID) error {
	return s.claim(ctx, clusterNameClaim(name), gocql.UUID(id), func(cur gocql.UUID) (bool, error) {
		other, err := s.getCluster(ctx, uuid.UUID(cur))
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		return err == nil && other.Name == name, err
	})
}

// releaseClusterName drops the claim of id on name, if it still holds it.
func (s *Store) releaseClusterName(ctx context.Context, name string, id uuid.UUID) error {
	return s.release(ctx, clusterNameClaim(name), gocql.UUID(id))
}

// CreateCluster implements store.ClusterStore.
func (s *Store) CreateCluster(ctx context.Context, c *store.Cluster) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	if err := store.CheckCluster(c); err != nil {
		return fmt.Errorf("cqlstore: %w", err)
	}
	if err := s.claimClusterName(ctx, c.Name, c.ID); err != nil {
		return err
	}
	applied, err := s.query(ctx, "INSERT INTO cluster ("+clusterCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS",
		gocql.UUID(c.ID), c.Name, c.Host, c.Port, c.Labels, c.KnownHosts, c.ForceTLSDisabled, c.ForceNonSSLSessionPort,
		c.CreatedAt, c.UpdatedAt).MapScanCAS(map[string]any{})
	if err != nil {
		return s.dbErr("create cluster "+c.Name, err)
	}
	if !applied {
		// Same ID exists. Give the name back unless that cluster has it.
		if old, err := s.getCluster(ctx, c.ID); err == nil && old.Name != c.Name {
			if err := s.releaseClusterName(ctx, c.Name, c.ID); err != nil {
				return err
			}
		}
		return fmt.Errorf("cqlstore: cluster %s exists: %w", c.ID, store.ErrConflict)
	}
	return nil
}

// UpdateCluster implements store.ClusterStore.
func (s *Store) UpdateCluster(ctx context.Context, c *store.Cluster) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	if err := store.CheckCluster(c); err != nil {
		return fmt.Errorf("cqlstore: %w", err)
	}
	for range 5 {
		old, err := s.getCluster(ctx, c.ID)
		if err != nil {
			return err
		}
		if old.Name != c.Name {
			if err := s.claimClusterName(ctx, c.Name, c.ID); err != nil {
				return err
			}
		}
		// IF name = old name: fails if the cluster was deleted or renamed
		// meanwhile (CQL 2.1 has no UPDATE ... IF EXISTS).
		m := map[string]any{}
		applied, err := s.query(ctx, "UPDATE cluster SET name = ?, host = ?, port = ?, labels = ?, known_hosts = ?, "+
			"force_tls_disabled = ?, force_non_ssl_session_port = ?, created_at = ?, updated_at = ? WHERE id = ? IF name = ?",
			c.Name, c.Host, c.Port, c.Labels, c.KnownHosts, c.ForceTLSDisabled, c.ForceNonSSLSessionPort,
			c.CreatedAt, c.UpdatedAt, gocql.UUID(c.ID), old.Name).MapScanCAS(m)
		if err != nil {
			return s.dbErr("update cluster "+c.ID.String(), err)
		}
		if !applied {
			continue
		}
		if old.Name != c.Name {
			if err := s.releaseClusterName(ctx, old.Name, c.ID); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("cqlstore: update cluster %s: contended: %w", c.ID, store.ErrConflict)
}

// GetCluster implements store.ClusterStore.
func (s *Store) GetCluster(ctx context.Context, id uuid.UUID) (*store.Cluster, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	return s.getCluster(ctx, id)
}

// GetClusterByName implements store.ClusterStore.
func (s *Store) GetClusterByName(ctx context.Context, name string) (*store.Cluster, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	var id gocql.UUID
	err := s.query(ctx, "SELECT owner FROM cluster_name WHERE name = ?", name).Scan(&id)
	if errors.Is(err, gocql.ErrNotFound) {
		return nil, fmt.Errorf("cqlstore: cluster %q: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return nil, s.dbErr("get cluster "+name, err)
	}
	c, err := s.getCluster(ctx, uuid.UUID(id))
	if err == nil && c.Name != name {
		err = store.ErrNotFound // a stale claim
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("cqlstore: cluster %q: %w", name, store.ErrNotFound)
	}
	return c, err
}

// ListClusters implements store.ClusterStore.
func (s *Store) ListClusters(ctx context.Context) ([]*store.Cluster, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	it := s.query(ctx, "SELECT "+clusterCols+" FROM cluster").Iter()
	out := []*store.Cluster{}
	for {
		c, ok := scanCluster(it)
		if !ok {
			break
		}
		out = append(out, c)
	}
	if err := it.Close(); err != nil {
		return nil, s.dbErr("list clusters", err)
	}
	slices.SortFunc(out, func(a, b *store.Cluster) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// DeleteCluster implements store.ClusterStore.
func (s *Store) DeleteCluster(ctx context.Context, id uuid.UUID) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	c, err := s.getCluster(ctx, id)
	if err != nil {
		return err
	}
	tasks, err := s.listTasks(ctx, id)
	if err != nil {
		return err
	}
	for _, t := range tasks {
		if err := s.deleteTask(ctx, t); err != nil {
			return err
		}
	}
	if err := s.query(ctx, "DELETE FROM secret WHERE cluster_id = ?", gocql.UUID(id)).Exec(); err != nil {
		return s.dbErr("delete secrets of cluster "+id.String(), err)
	}
	applied, err := s.query(ctx, "DELETE FROM cluster WHERE id = ? IF EXISTS", gocql.UUID(id)).MapScanCAS(map[string]any{})
	if err != nil {
		return s.dbErr("delete cluster "+id.String(), err)
	}
	if !applied {
		return fmt.Errorf("cqlstore: cluster %s: %w", id, store.ErrNotFound)
	}
	return s.releaseClusterName(ctx, c.Name, id)
}

// PutSecret implements store.SecretStore.
func (s *Store) PutSecret(ctx context.Context, clusterID uuid.UUID, key string, value []byte) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	if err := store.CheckSecretKey(clusterID, key); err != nil {
		return fmt.Errorf("cqlstore: %w", err)
	}
	if _, err := s.getCluster(ctx, clusterID); err != nil {
		return err
	}
	if value == nil {
		value = []byte{}
	}
	if err := s.query(ctx, "INSERT INTO secret (cluster_id, key, value) VALUES (?, ?, ?)",
		gocql.UUID(clusterID), key, value).Exec(); err != nil {
		return s.dbErr("put secret "+key, err)
	}
	return nil
}

// GetSecret implements store.SecretStore.
func (s *Store) GetSecret(ctx context.Context, clusterID uuid.UUID, key string) ([]byte, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if err := store.CheckSecretKey(clusterID, key); err != nil {
		return nil, fmt.Errorf("cqlstore: %w", err)
	}
	var v []byte
	err := s.query(ctx, "SELECT value FROM secret WHERE cluster_id = ? AND key = ?", gocql.UUID(clusterID), key).Scan(&v)
	if errors.Is(err, gocql.ErrNotFound) {
		return nil, fmt.Errorf("cqlstore: secret %s of cluster %s: %w", key, clusterID, store.ErrNotFound)
	}
	if err != nil {
		return nil, s.dbErr("get secret "+key, err)
	}
	if v == nil {
		v = []byte{}
	}
	return v, nil
}

// DeleteSecret implements store.SecretStore.
func (s *Store) DeleteSecret(ctx context.Context, clusterID uuid.UUID, key string) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	if err := store.CheckSecretKey(clusterID, key); err != nil {
		return fmt.Errorf("cqlstore: %w", err)
	}
	if err := s.query(ctx, "DELETE FROM secret WHERE cluster_id = ? AND key = ?", gocql.UUID(clusterID), key).Exec(); err != nil {
		return s.dbErr("delete secret "+key, err)
	}
	return nil
}

// ListSecretKeys implements store.SecretStore.
func (s *Store) ListSecretKeys(ctx context.Context, clusterID uuid.UUID) ([]string, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if clusterID == uuid.Nil {
		return nil, fmt.Errorf("cqlstore: %w", store.Invalid("cluster_id", "a non-nil UUID", ""))
	}
	it := s.query(ctx, "SELECT key FROM secret WHERE cluster_id = ?", gocql.UUID(clusterID)).Iter()
	out := []string{}
	var k string
	for it.Scan(&k) {
		out = append(out, k)
	}
	if err := it.Close(); err != nil {
		return nil, s.dbErr("list secrets", err)
	}
	slices.Sort(out)
	return out, nil
}
