package agentclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/scyllaops/scyllaops/internal/agentapi"
)

// Wire types of the rclone subset, re-exported.
type (
	// ListOptions select what List lists.
	ListOptions = agentapi.ListOptions
	// ListOpt are List's flags.
	ListOpt = agentapi.ListOpt
	// ListItem is one listed file or directory.
	ListItem = agentapi.ListItem
	// SyncOptions are the options of MoveDir, CopyDir, MoveFile and
	// CopyFile.
	SyncOptions = agentapi.MoveOrCopyFileOptions
	// CopyPathsOptions are the options of CopyPaths.
	CopyPathsOptions = agentapi.CopyPathsOptions
	// JobInfo is the answer of JobInfo.
	JobInfo = agentapi.JobInfo
	// JobProgress is the answer of JobProgress.
	JobProgress = agentapi.JobProgress
	// FileInfo is the answer of FileInfo.
	FileInfo = agentapi.FileInfo
	// FileSystemDetails is the answer of About.
	FileSystemDetails = agentapi.FileSystemDetails
)

// Job statuses of JobProgress.Status.
const (
	JobSuccess  = agentapi.JobSuccess
	JobError    = agentapi.JobError
	JobRunning  = agentapi.JobRunning
	JobNotFound = agentapi.JobNotFound
)

// rc posts body to the rclone call and decodes the answer into out. Final
// lists 5xx messages that are not retried.
func (c *Client) rc(ctx context.Context, host, name string, q url.Values, body, out any, timeout time.Duration, final ...string) error {
	return c.getJSON(ctx, host, call{op: "rclone " + name, method: http.MethodPost, path: agentapi.PathRclone + name, query: q, body: body, timeout: timeout, final: final}, out)
}

// errJobNotFound is the message of rclone's 500 answer for an unknown job
// id (with wait 0; with wait > 0 it answers 404).
const errJobNotFound = "job not found"

// isJobNotFound reports whether err is an agent's answer for an unknown
// job: 404, or rclone's 500 "job not found".
func isJobNotFound(err error) bool {
	se, ok := errors.AsType[*StatusError](err)
	if !ok {
		return false
	}
	return se.Code == http.StatusNotFound ||
		(se.Code == http.StatusInternalServerError && strings.Contains(strings.ToLower(se.Message), errJobNotFound))
}

// fsPath joins remote into fs ("s3:b" + "x/y" = "s3:b/x/y", "data:" +
// "ks" = "data:ks").
func fsPath(fs, remote string) string {
	remote = strings.Trim(remote, "/")
	switch {
	case remote == "":
		return fs
	case strings.HasSuffix(fs, ":") || strings.HasSuffix(fs, "/"):
		return fs + remote
	}
	return fs + "/" + remote
}

// rcAsync starts the call as a job and returns its id.
func (c *Client) rcAsync(ctx context.Context, host, name string, body any) (int64, error) {
	var j agentapi.JobID
	if err := c.rc(ctx, host, name, url.Values{agentapi.ParamAsync: {"true"}}, body, &j, 0); err != nil {
		return 0, err
	}
	return j.JobID, nil
}

// CheckPermissions checks that the agent can put, list, get and delete
// objects under fs:remote (e.g. "s3:bucket", "").
func (c *Client) CheckPermissions(ctx context.Context, host, fs, remote string) error {
	return c.rc(ctx, host, agentapi.CallOperationsCheckPerms, nil, agentapi.CheckPermissionsOptions{Fs: fs, Remote: remote}, nil, 0)
}

// List streams the listing of opts.Fs:opts.Remote, calling fn for every
// item in order; the listing is never held in memory. Each item's Path is
// relative to opts.Fs:opts.Remote: like Scylla Manager, List sends the
// whole path as fs with an empty remote, so an rclone-based agent (whose
// Path is relative to fs) and ours answer alike. A non-nil error from fn
// stops the listing and is returned as is. The call has no total timeout;
// Options.ListTimeout bounds the wait for each item.
func (c *Client) List(ctx context.Context, host string, opts ListOptions, fn func(ListItem) error) error {
	const op = "rclone " + agentapi.CallOperationsList
	opts.Fs, opts.Remote = fsPath(opts.Fs, opts.Remote), ""
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	errIdle := fmt.Errorf("no listing data for %s (list timeout)", c.opts.ListTimeout)
	idle := time.AfterFunc(c.opts.ListTimeout, func() { cancel(errIdle) })
	defer idle.Stop()
	resp, err := c.do(ctx, host, call{op: op, method: http.MethodPost, path: agentapi.PathRclone + agentapi.CallOperationsList, body: opts, noTimeout: true})
	if err != nil {
		if errors.Is(context.Cause(ctx), errIdle) {
			return &HostError{Host: host, Op: op, Err: fmt.Errorf("%w: %w", ErrUnreachable, errIdle)}
		}
		return err
	}
	defer resp.Body.Close()
	err = decodeList(resp.Body, func(it ListItem) error {
		idle.Reset(c.opts.ListTimeout)
		return fn(it)
	})
	var ue userError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ue):
		return ue.err
	case errors.Is(context.Cause(ctx), errIdle):
		return &HostError{Host: host, Op: op, Err: fmt.Errorf("%w: %w", ErrUnreachable, errIdle)}
	default:
		return &HostError{Host: host, Op: op, Err: err}
	}
}

// errOrUnexpected returns err, or an "unexpected token" error when the
// token was read but was the wrong one.
func errOrUnexpected(err error) error {
	if err != nil {
		return err
	}
	return errors.New("unexpected token")
}

type userError struct{ err error }

func (e userError) Error() string { return e.err.Error() }

// decodeList walks {"list":[item,...]} token by token.
func decodeList(r io.Reader, fn func(ListItem) error) error {
	dec := json.NewDecoder(r)
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return fmt.Errorf("decode listing: want an object (%w)", errOrUnexpected(err))
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return fmt.Errorf("decode listing: %w", err)
		}
		if key, _ := t.(string); key != "list" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return fmt.Errorf("decode listing: %w", err)
			}
			continue
		}
		if t, err := dec.Token(); err != nil || (t != json.Delim('[') && t != nil) {
			return fmt.Errorf("decode listing: want an array (%w)", errOrUnexpected(err))
		} else if t == nil {
			continue
		}
		for dec.More() {
			var it ListItem
			if err := dec.Decode(&it); err != nil {
				return fmt.Errorf("decode listing: %w", err)
			}
			if err := fn(it); err != nil {
				return userError{err}
			}
		}
		if _, err := dec.Token(); err != nil {
			return fmt.Errorf("decode listing: %w", err)
		}
	}
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("decode listing: %w", err)
	}
	return nil
}

// Cat returns the content of fs:remote. The agent restricts it to paths
// under backup/meta/ or backup/schema/ and to names ending in .crc32.
func (c *Client) Cat(ctx context.Context, host, fs, remote string) ([]byte, error) {
	const op = "rclone " + agentapi.CallOperationsCat
	resp, err := c.do(ctx, host, call{op: op, method: http.MethodPost, path: agentapi.PathRclone + agentapi.CallOperationsCat, body: agentapi.RemotePath{Fs: fs, Remote: remote}})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, &HostError{Host: host, Op: op, Err: err}
	}
	return b, nil
}

// Put writes body to fs:remote, streaming it. When body is an io.Seeker
// the call is retried like others; otherwise it is sent once.
func (c *Client) Put(ctx context.Context, host, fs, remote string, body io.Reader) error {
	q := url.Values{"fs": {fs}, "remote": {remote}}
	_, seekable := body.(io.ReadSeeker)
	return c.getJSON(ctx, host, call{op: "rclone " + agentapi.CallOperationsPut, method: http.MethodPost,
		path: agentapi.PathRclone + agentapi.CallOperationsPut, query: q, body: onlyReader{body, seekable}, noTimeout: true, noRetry: !seekable}, nil)
}

// onlyReader hides everything but Read (and Seek, when seekable) from
// retryablehttp, which would otherwise buffer known body types.
type onlyReader struct {
	r        io.Reader
	seekable bool
}

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// Seek implements io.Seeker when the wrapped reader does.
func (o onlyReader) Seek(off int64, whence int) (int64, error) {
	if s, ok := o.r.(io.Seeker); ok && o.seekable {
		return s.Seek(off, whence)
	}
	return 0, errors.New("agentclient: body is not seekable")
}

// DeleteFile deletes the file fs:remote.
func (c *Client) DeleteFile(ctx context.Context, host, fs, remote string) error {
	return c.rc(ctx, host, agentapi.CallOperationsDeleteFile, nil, agentapi.RemotePath{Fs: fs, Remote: remote}, nil, 0)
}

// DeletePaths deletes fs:remote/<path> for every path and returns how many
// files were deleted (missing files are not errors).
func (c *Client) DeletePaths(ctx context.Context, host, fs, remote string, paths []string) (int64, error) {
	var out agentapi.DeletePathsResponse
	err := c.rc(ctx, host, agentapi.CallOperationsDeletePaths, nil, agentapi.DeletePathsOptions{Fs: fs, Remote: remote, Paths: paths}, &out, 0)
	return out.Deletes, err
}

// Purge deletes everything under fs:remote.
func (c *Client) Purge(ctx context.Context, host, fs, remote string) error {
	return c.rc(ctx, host, agentapi.CallOperationsPurge, nil, agentapi.RemotePath{Fs: fs, Remote: remote}, nil, 0)
}

// MoveFile moves one file from srcFs:srcRemote to dstFs:dstRemote
// (destination first, as io.Copy). The agent allows it within one directory or
// from the local data dir.
func (c *Client) MoveFile(ctx context.Context, host, dstFs, dstRemote, srcFs, srcRemote string) error {
	return c.rc(ctx, host, agentapi.CallOperationsMoveFile, nil, SyncOptions{SrcFs: srcFs, SrcRemote: srcRemote, DstFs: dstFs, DstRemote: dstRemote}, nil, 0)
}

// CopyFile copies one file from srcFs:srcRemote to dstFs:dstRemote
// (destination first, as io.Copy).
func (c *Client) CopyFile(ctx context.Context, host, dstFs, dstRemote, srcFs, srcRemote string) error {
	return c.rc(ctx, host, agentapi.CallOperationsCopyFile, nil, SyncOptions{SrcFs: srcFs, SrcRemote: srcRemote, DstFs: dstFs, DstRemote: dstRemote}, nil, 0)
}

// CopyFileAsync starts a job copying srcFs:srcRemote to dstFs:dstRemote
// and returns its id. Our agent joins a second identical call to the job
// still running (one copy); rclone-based agents start another.
func (c *Client) CopyFileAsync(ctx context.Context, host, dstFs, dstRemote, srcFs, srcRemote string) (int64, error) {
	return c.rcAsync(ctx, host, agentapi.CallOperationsCopyFile, SyncOptions{SrcFs: srcFs, SrcRemote: srcRemote, DstFs: dstFs, DstRemote: dstRemote})
}

// About returns the disk usage of fs (used for "data:").
func (c *Client) About(ctx context.Context, host, fs, remote string) (FileSystemDetails, error) {
	var out FileSystemDetails
	err := c.rc(ctx, host, agentapi.CallOperationsAbout, nil, agentapi.RemotePath{Fs: fs, Remote: remote}, &out, 0)
	return out, err
}

// FileInfo returns size and modification time of fs:remote; ErrNotFound if
// it does not exist.
func (c *Client) FileInfo(ctx context.Context, host, fs, remote string) (FileInfo, error) {
	var out FileInfo
	err := c.rc(ctx, host, agentapi.CallOperationsFileInfo, nil, agentapi.RemotePath{Fs: fs, Remote: remote}, &out, 0)
	return out, err
}

// MoveDir starts a job uploading the local directory o.SrcFs:o.SrcRemote
// to o.DstFs:o.DstRemote, deleting local files once uploaded, and returns
// the job id. o.Suffix versions overwritten remote files. Against Scylla
// Manager's agent, o.BandwidthRate and o.Transfers are set agent-wide
// once per host instead of per job (see IsRcloneAgentVersion).
func (c *Client) MoveDir(ctx context.Context, host string, o SyncOptions) (int64, error) {
	var err error
	if o.BandwidthRate, o.Transfers, err = c.agentWideLimits(ctx, host, o.BandwidthRate, o.Transfers); err != nil {
		return 0, err
	}
	return c.rcAsync(ctx, host, agentapi.CallSyncMoveDir, o)
}

// CopyDir is MoveDir without deleting local files.
func (c *Client) CopyDir(ctx context.Context, host string, o SyncOptions) (int64, error) {
	var err error
	if o.BandwidthRate, o.Transfers, err = c.agentWideLimits(ctx, host, o.BandwidthRate, o.Transfers); err != nil {
		return 0, err
	}
	return c.rcAsync(ctx, host, agentapi.CallSyncCopyDir, o)
}

// CopyPaths starts a job downloading o.Paths into the local directory
// o.DstFs:o.DstRemote and returns the job id. Limits as with MoveDir.
func (c *Client) CopyPaths(ctx context.Context, host string, o CopyPathsOptions) (int64, error) {
	var err error
	if o.BandwidthRate, o.Transfers, err = c.agentWideLimits(ctx, host, o.BandwidthRate, o.Transfers); err != nil {
		return 0, err
	}
	return c.rcAsync(ctx, host, agentapi.CallSyncCopyPaths, o)
}

// JobInfo returns a job's status, stats and finished transfers, waiting up
// to wait for it to finish (0 = answer at once). An unknown job is an
// error matching ErrNotFound (rclone answers 500 "job not found" or 404).
func (c *Client) JobInfo(ctx context.Context, host string, id int64, wait time.Duration) (*JobInfo, error) {
	var out JobInfo
	if err := c.rc(ctx, host, agentapi.CallJobInfo, nil, agentapi.JobInfoParams{JobID: id, Wait: waitSeconds(wait)}, &out, wait+c.opts.Timeout, errJobNotFound); err != nil {
		if isJobNotFound(err) {
			return nil, fmt.Errorf("job %d: %w: %w", id, ErrNotFound, err)
		}
		return nil, err
	}
	return &out, nil
}

// JobProgress returns a job's aggregated progress, waiting up to wait for
// it to finish (long poll; 0 = answer at once). Unknown jobs answer
// Status JobNotFound: our agent says so in a 200, rclone-based agents
// answer 500 "job not found" (wait 0) or 404 (wait > 0); all three are
// mapped to it, so a caller restarts the job (e.g. after an agent
// restart) instead of failing.
func (c *Client) JobProgress(ctx context.Context, host string, id int64, wait time.Duration) (*JobProgress, error) {
	var out JobProgress
	if err := c.rc(ctx, host, agentapi.CallJobProgress, nil, agentapi.JobInfoParams{JobID: id, Wait: waitSeconds(wait)}, &out, wait+c.opts.Timeout, errJobNotFound); err != nil {
		if isJobNotFound(err) {
			return &JobProgress{Status: JobNotFound}, nil
		}
		return nil, err
	}
	return &out, nil
}

func waitSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return max(1, int64(d/time.Second))
}

// JobStop cancels a job.
func (c *Client) JobStop(ctx context.Context, host string, id int64) error {
	return c.rc(ctx, host, agentapi.CallJobStop, nil, agentapi.JobID{JobID: id}, nil, 0)
}

// BwLimit sets the agent-wide bandwidth limit (like "100M", "off") and
// returns the limit in effect; rate "" only queries (the rate field is
// then omitted: rclone refuses an empty one).
func (c *Client) BwLimit(ctx context.Context, host, rate string) (string, error) {
	var out agentapi.Bandwidth
	err := c.rc(ctx, host, agentapi.CallCoreBwlimit, nil, agentapi.Bandwidth{Rate: rate}, &out, 0)
	return out.Rate, err
}

// SetTransfers sets the default number of parallel file transfers and
// returns the value in effect.
func (c *Client) SetTransfers(ctx context.Context, host string, n int) (int, error) {
	var out agentapi.Transfers
	err := c.rc(ctx, host, agentapi.CallCoreTransfers, nil, agentapi.Transfers{Transfers: n}, &out, 0)
	return out.Transfers, err
}

// StatsDelete drops the stats of group (e.g. JobGroup(id)) on the agent.
func (c *Client) StatsDelete(ctx context.Context, host, group string) error {
	return c.rc(ctx, host, agentapi.CallCoreStatsDelete, nil, agentapi.StatsParams{Group: group}, nil, 0)
}

// StatsReset zeroes the stats of group ("" = all).
func (c *Client) StatsReset(ctx context.Context, host, group string) error {
	return c.rc(ctx, host, agentapi.CallCoreStatsReset, nil, agentapi.StatsParams{Group: group}, nil, 0)
}

// JobGroup is the stats group name of job id.
func JobGroup(id int64) string { return "job/" + strconv.FormatInt(id, 10) }
