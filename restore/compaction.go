package restore

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/sync/errgroup"
)

// Auto-compaction of the restored tables is off on the target hosts for
// the DATA stage unless allow_compaction is set: loaded sstables are not
// compacted while more arrive. It is turned back on when the stage ends,
// also on failure or stop, and by a resumed run that finds the stage over
// (its predecessor died before turning it on).

// setAutoCompaction enables or disables auto-compaction of every restored
// table on every target host (Scylla's /column_family/autocompaction/{ks:t}:
// POST enables, DELETE disables).
func (r *run) setAutoCompaction(ctx context.Context, enable bool) error {
	method, verb := http.MethodDelete, "disable"
	if enable {
		method, verb = http.MethodPost, "enable"
	}
	var g errgroup.Group
	g.SetLimit(8)
	errs := make([]error, len(r.row.Target.TargetHosts))
	for i, h := range r.row.Target.TargetHosts {
		g.Go(func() error {
			for _, t := range r.restoredTables() {
				ks, tbl, _ := strings.Cut(t, ".")
				if err := r.c.Raw(ctx, h.IP, method, "/column_family/autocompaction/"+url.PathEscape(ks+":"+tbl), nil, nil, nil); err != nil {
					errs[i] = fmt.Errorf("%s auto-compaction of %s on %s: %w", verb, t, h.IP, err)
					return nil
				}
			}
			return nil
		})
	}
	_ = g.Wait()
	return errors.Join(errs...)
}

// dataWithoutCompaction runs the DATA stage with auto-compaction off
// (unless allow_compaction) and turns it back on however the stage ends.
func (r *run) dataWithoutCompaction(ctx context.Context) (err error) {
	if r.props.AllowCompaction {
		return r.data(ctx)
	}
	if err := r.setAutoCompaction(ctx, false); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer func() {
		if eerr := r.setAutoCompaction(context.WithoutCancel(ctx), true); eerr != nil {
			err = errors.Join(err, fmt.Errorf("restore: %w", eerr))
		}
	}()
	return r.data(ctx)
}
