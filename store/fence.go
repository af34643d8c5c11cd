package store

import "context"

type fenceKey struct{}

// WithFence returns a context that carries the fencing token of the lease
// under which a run executes. The scheduler sets it before it calls a
// Runner; a service copies FenceFrom(ctx) into the Run and Progress
// records it writes, so its writes are refused once it lost the lease.
func WithFence(ctx context.Context, fence int64) context.Context {
	return context.WithValue(ctx, fenceKey{}, fence)
}

// FenceFrom returns the fencing token set by WithFence, or 0.
func FenceFrom(ctx context.Context) int64 {
	f, _ := ctx.Value(fenceKey{}).(int64)
	return f
}
