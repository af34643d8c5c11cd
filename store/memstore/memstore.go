package memstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/store"
)

var (
	_ store.Store           = (*Store)(nil)
	_ store.ProgressBatcher = (*Store)(nil)
)

// Store is an in-memory store.Store. The zero value is not usable; call
// New.
type Store struct {
	mu     sync.Mutex
	closed bool

	clusters map[uuid.UUID]*store.Cluster
	names    map[string]uuid.UUID                     // cluster name -> ID
	secrets  map[uuid.UUID]map[string][]byte          // cluster -> key -> value
	tasks    map[uuid.UUID]*store.Task                // task ID -> task
	runs     map[uuid.UUID]map[uuid.UUID]*store.Run   // task ID -> run ID -> run
	progress map[uuid.UUID]map[string]*store.Progress // run ID -> key -> row
	events   map[uuid.UUID][]*store.Event             // cluster -> events
	leases   map[string]*lease                        // name -> last lease
}

// lease is the state of a lease name. It survives release and expiry so
// that the fence of the name only grows.
type lease struct {
	owner   string // "" once released
	fence   int64
	expires time.Time
}

// New returns an empty in-memory store.
func New() *Store {
	return &Store{
		clusters: make(map[uuid.UUID]*store.Cluster),
		names:    make(map[string]uuid.UUID),
		secrets:  make(map[uuid.UUID]map[string][]byte),
		tasks:    make(map[uuid.UUID]*store.Task),
		runs:     make(map[uuid.UUID]map[uuid.UUID]*store.Run),
		progress: make(map[uuid.UUID]map[string]*store.Progress),
		events:   make(map[uuid.UUID][]*store.Event),
		leases:   make(map[string]*lease),
	}
}

// Close drops the state. It is idempotent; later calls of any other
// method return store.ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.clusters, s.names, s.secrets, s.tasks = nil, nil, nil, nil
	s.runs, s.progress, s.events, s.leases = nil, nil, nil, nil
	return nil
}

// begin checks ctx and the closed flag and, on success, returns with s.mu
// held; the caller must unlock it.
func (s *Store) begin(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return fmt.Errorf("memstore: %w", store.ErrClosed)
	}
	return nil
}

func notFound(what string, id any) error {
	return fmt.Errorf("memstore: %s %v: %w", what, id, store.ErrNotFound)
}

func conflict(format string, args ...any) error {
	return fmt.Errorf("memstore: "+format+": %w", append(args, store.ErrConflict)...)
}

// CreateCluster implements store.ClusterStore.
func (s *Store) CreateCluster(ctx context.Context, c *store.Cluster) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := store.CheckCluster(c); err != nil {
		return fmt.Errorf("memstore: %w", err)
	}
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if _, ok := s.clusters[c.ID]; ok {
		return conflict("cluster %s exists", c.ID)
	}
	if _, ok := s.names[c.Name]; ok {
		return conflict("cluster name %q is taken", c.Name)
	}
	s.clusters[c.ID] = cloneCluster(c)
	s.names[c.Name] = c.ID
	return nil
}

// UpdateCluster implements store.ClusterStore.
func (s *Store) UpdateCluster(ctx context.Context, c *store.Cluster) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := store.CheckCluster(c); err != nil {
		return fmt.Errorf("memstore: %w", err)
	}
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	old, ok := s.clusters[c.ID]
	if !ok {
		return notFound("cluster", c.ID)
	}
	if id, ok := s.names[c.Name]; ok && id != c.ID {
		return conflict("cluster name %q is taken", c.Name)
	}
	delete(s.names, old.Name)
	s.clusters[c.ID] = cloneCluster(c)
	s.names[c.Name] = c.ID
	return nil
}

// GetCluster implements store.ClusterStore.
func (s *Store) GetCluster(ctx context.Context, id uuid.UUID) (*store.Cluster, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	c, ok := s.clusters[id]
	if !ok {
		return nil, notFound("cluster", id)
	}
	return cloneCluster(c), nil
}

// GetClusterByName implements store.ClusterStore.
func (s *Store) GetClusterByName(ctx context.Context, name string) (*store.Cluster, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	id, ok := s.names[name]
	if !ok {
		return nil, notFound("cluster", fmt.Sprintf("%q", name))
	}
	return cloneCluster(s.clusters[id]), nil
}

// ListClusters implements store.ClusterStore.
func (s *Store) ListClusters(ctx context.Context) ([]*store.Cluster, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	out := make([]*store.Cluster, 0, len(s.clusters))
	for _, c := range s.clusters {
		out = append(out, cloneCluster(c))
	}
	slices.SortFunc(out, func(a, b *store.Cluster) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}

// DeleteCluster implements store.ClusterStore.
func (s *Store) DeleteCluster(ctx context.Context, id uuid.UUID) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	c, ok := s.clusters[id]
	if !ok {
		return notFound("cluster", id)
	}
	for tid, t := range s.tasks {
		if t.ClusterID == id {
			s.deleteTaskLocked(tid)
		}
	}
	delete(s.secrets, id)
	delete(s.names, c.Name)
	delete(s.clusters, id)
	return nil
}

// PutSecret implements store.SecretStore.
func (s *Store) PutSecret(ctx context.Context, clusterID uuid.UUID, key string, value []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := store.CheckSecretKey(clusterID, key); err != nil {
		return fmt.Errorf("memstore: %w", err)
	}
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if _, ok := s.clusters[clusterID]; !ok {
		return notFound("cluster", clusterID)
	}
	m := s.secrets[clusterID]
	if m == nil {
		m = make(map[string][]byte)
		s.secrets[clusterID] = m
	}
	m[key] = slices.Clone(value)
	if m[key] == nil {
		m[key] = []byte{}
	}
	return nil
}

// GetSecret implements store.SecretStore.
func (s *Store) GetSecret(ctx context.Context, clusterID uuid.UUID, key string) ([]byte, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	v, ok := s.secrets[clusterID][key]
	if !ok {
		return nil, notFound("secret", fmt.Sprintf("%s/%q", clusterID, key))
	}
	return slices.Clone(v), nil
}

// DeleteSecret implements store.SecretStore.
func (s *Store) DeleteSecret(ctx context.Context, clusterID uuid.UUID, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := store.CheckSecretKey(clusterID, key); err != nil {
		return fmt.Errorf("memstore: %w", err)
	}
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	delete(s.secrets[clusterID], key)
	return nil
}

// ListSecretKeys implements store.SecretStore.
func (s *Store) ListSecretKeys(ctx context.Context, clusterID uuid.UUID) ([]string, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.secrets[clusterID]))
	for k := range s.secrets[clusterID] {
		out = append(out, k)
	}
	slices.Sort(out)
	return out, nil
}
