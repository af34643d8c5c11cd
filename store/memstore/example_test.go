package memstore_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/store"
	"github.com/scyllaops/scyllaops/store/memstore"
)

func ExampleNew() {
	ctx := context.Background()
	s := memstore.New()
	defer s.Close()

	c := &store.Cluster{ID: uuid.New(), Name: "prod-eu"}
	if err := s.CreateCluster(ctx, c); err != nil {
		fmt.Println(err)
		return
	}
	err := s.CreateCluster(ctx, &store.Cluster{ID: uuid.New(), Name: "prod-eu"})
	fmt.Println("same name again:", errors.Is(err, store.ErrConflict))

	a, _ := s.AcquireLease(ctx, "task/backup", "manager-a", time.Minute)
	_, err = s.AcquireLease(ctx, "task/backup", "manager-b", time.Minute)
	fmt.Println("fence:", a.Fence, "held:", errors.Is(err, store.ErrLeaseHeld))
	_ = s.ReleaseLease(ctx, a)
	b, _ := s.AcquireLease(ctx, "task/backup", "manager-b", time.Minute)
	fmt.Println("next fence:", b.Fence)
	// Output:
	// same name again: true
	// fence: 1 held: true
	// next fence: 2
}
