package agent

import (
	"context"
	"errors"
	"fmt"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
)

// versionCopy copies dst/key to dst/key+suffix before key is overwritten
// (a versioned file). It uses the provider's server-side copy and, when
// that fails (S3 CopyObject refuses objects over 5 GiB, some S3-compatible
// servers have no copy), streams the object through the agent instead,
// under the job's bandwidth limit.
func (s *rcServer) versionCopy(ctx context.Context, j *job, dst *blob.Bucket, key, suffix string, size int64) error {
	err := dst.Copy(ctx, key+suffix, key, nil)
	if err == nil || gcerrors.Code(err) == gcerrors.NotFound || ctx.Err() != nil {
		return err
	}
	r, rerr := dst.NewReader(ctx, key, nil)
	if rerr != nil {
		return errors.Join(err, rerr)
	}
	defer r.Close()
	// A throwaway job: the copy is not an upload of the job's files.
	tmp := newJob(0, nil)
	tmp.limiter.Store(j.limiter.Load())
	if _, serr := s.copyStream(ctx, tmp, r, dst, key+suffix, size, nil, nil); serr != nil {
		return fmt.Errorf("server-side copy: %w; streamed copy: %w", err, serr)
	}
	s.a.log.Debug("versioned by streamed copy", "key", key, "suffix", suffix, "server_side_error", err)
	return nil
}
