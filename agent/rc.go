package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"gocloud.dev/gcerrors"
	"golang.org/x/time/rate"

	"github.com/scyllaops/scyllaops/internal/agentapi"
)

// rcFunc is an rc call that answers JSON; j collects its transfer stats
// (a throwaway job for synchronous calls).
type rcFunc func(ctx context.Context, p params, j *job) (any, error)

// rcServer serves /agent/rclone/.
type rcServer struct {
	a         *Agent
	buckets   *buckets
	jobs      *jobs
	limiter   *rate.Limiter // agent-wide bandwidth limit
	transfers atomic.Int64
	calls     map[string]rcFunc
}

func newRCServer(a *Agent) (*rcServer, error) {
	s := &rcServer{a: a, buckets: newBuckets(a.opts), jobs: newJobs(a.opts.JobTTL), limiter: newLimiter(a.opts.BandwidthLimit)}
	s.transfers.Store(int64(a.opts.Transfers))
	s.calls = map[string]rcFunc{
		agentapi.CallCoreBwlimit:           s.coreBwlimit,
		agentapi.CallCoreTransfers:         s.coreTransfers,
		agentapi.CallCoreStatsReset:        s.coreStatsReset,
		agentapi.CallCoreStatsDelete:       s.coreStatsReset,
		agentapi.CallJobInfo:               s.jobInfo,
		agentapi.CallJobProgress:           s.jobProgress,
		agentapi.CallJobStop:               s.jobStop,
		agentapi.CallOperationsAbout:       s.opAbout,
		agentapi.CallOperationsFileInfo:    s.opFileInfo,
		agentapi.CallOperationsMoveFile:    s.opMoveFile,
		agentapi.CallOperationsCopyFile:    s.opCopyFile,
		agentapi.CallOperationsDeleteFile:  s.opDeleteFile,
		agentapi.CallOperationsPurge:       s.opPurge,
		agentapi.CallOperationsDeletePaths: s.opDeletePaths,
		agentapi.CallOperationsCheckPerms:  s.opCheckPermissions,
		agentapi.CallSyncCopyDir:           s.syncCopyDir,
		agentapi.CallSyncMoveDir:           s.syncMoveDir,
		agentapi.CallSyncCopyPaths:         s.syncCopyPaths,
	}
	return s, nil
}

// knownCall reports whether name is a whitelisted rc call.
func knownCall(name string) bool {
	switch name {
	case agentapi.CallCoreBwlimit, agentapi.CallCoreTransfers, agentapi.CallCoreStatsReset, agentapi.CallCoreStatsDelete,
		agentapi.CallJobInfo, agentapi.CallJobProgress, agentapi.CallJobStop,
		agentapi.CallOperationsAbout, agentapi.CallOperationsFileInfo, agentapi.CallOperationsList,
		agentapi.CallOperationsCat, agentapi.CallOperationsPut, agentapi.CallOperationsMoveFile,
		agentapi.CallOperationsCopyFile, agentapi.CallOperationsDeleteFile, agentapi.CallOperationsPurge,
		agentapi.CallOperationsDeletePaths, agentapi.CallOperationsCheckPerms,
		agentapi.CallSyncCopyDir, agentapi.CallSyncMoveDir, agentapi.CallSyncCopyPaths:
		return true
	}
	return false
}

func (s *rcServer) close() {
	s.jobs.close()
	s.buckets.close()
}

func (s *rcServer) serve(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, agentapi.PathRclone)
	if !knownCall(name) {
		s.a.unexposed.WithLabelValues(s.a.unexposedAddr.value(remoteHost(r)), s.a.unexposedPath.value(logPath(r.URL.Path))).Inc()
		s.writeError(w, name, nil, withStatus(http.StatusNotFound, fmt.Errorf("couldn't find method %q", name)))
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		s.writeError(w, name, nil, withStatus(http.StatusMethodNotAllowed, fmt.Errorf("method %s not allowed: rc calls accept only POST", r.Method)))
		return
	}
	if name == agentapi.CallOperationsPut {
		s.opPut(w, r)
		return
	}
	p, err := decodeParams(r.URL.Query(), r.Header.Get("Content-Type"), r.Body)
	if err != nil {
		s.writeError(w, name, nil, err)
		return
	}
	switch name {
	case agentapi.CallOperationsCat:
		s.opCat(w, r, p)
		return
	case agentapi.CallOperationsList:
		s.opList(w, r, p)
		return
	}
	async, err := p.bool(agentapi.ParamAsync)
	if err != nil {
		s.writeError(w, name, p, err)
		return
	}
	fn := s.calls[name]
	input := p
	p = cloneParams(p)
	delete(p, agentapi.ParamAsync)
	delete(p, agentapi.ParamGroup)
	if async {
		key := ""
		switch name {
		case agentapi.CallSyncCopyDir, agentapi.CallSyncMoveDir, agentapi.CallSyncCopyPaths:
			if _, err := s.parseSyncParams(name, p); err != nil {
				s.writeError(w, name, input, err)
				return
			}
			key = syncJobKey(name, p)
		case agentapi.CallOperationsCopyFile:
			// A restore asks for a file again after its Manager died
			// mid-copy: the call joins the copy still running.
			key = syncJobKey(name, p)
		}
		j, err := s.jobs.start(context.WithoutCancel(r.Context()), key, func(ctx context.Context, j *job) (any, error) {
			return fn(ctx, p, j)
		})
		if err != nil {
			s.writeError(w, name, input, withStatus(http.StatusServiceUnavailable, err))
			return
		}
		w.Header().Set(agentapi.HeaderJobID, strconv.FormatInt(j.id, 10))
		writeJSON(w, http.StatusOK, agentapi.JobID{JobID: j.id})
		return
	}
	ctx, cancel := context.WithCancelCause(r.Context())
	defer cancel(nil)
	out, err := fn(ctx, p, newJob(0, cancel))
	if err != nil {
		s.writeError(w, name, input, err)
		return
	}
	if out == nil {
		out = struct{}{}
	}
	writeJSON(w, http.StatusOK, out)
}

func cloneParams(p params) params {
	out := make(params, len(p))
	for k, v := range p {
		out[k] = v
	}
	return out
}

// statusOf maps an error to the HTTP status of its answer.
func statusOf(err error) int {
	if e, ok := errors.AsType[*rcError](err); ok {
		return e.status
	}
	switch gcerrors.Code(err) {
	case gcerrors.NotFound:
		return http.StatusNotFound
	case gcerrors.PermissionDenied:
		return http.StatusForbidden
	case gcerrors.InvalidArgument:
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

func (s *rcServer) writeError(w http.ResponseWriter, name string, input params, err error) {
	code := statusOf(err)
	if code >= 500 {
		s.a.log.Warn("rc call failed", "call", name, "err", err)
	}
	writeJSON(w, code, agentapi.ErrorResponse{Status: code, Message: err.Error(), Input: input, Path: name})
}

// location reads the fs/remote pair named by the keys.
func location2(p params, fsKey, remoteKey string) (location, error) {
	fs, err := p.required(fsKey)
	if err != nil {
		return location{}, err
	}
	remote, err := p.str(remoteKey)
	if err != nil {
		return location{}, err
	}
	return parseLocation(fs, remote)
}

func (s *rcServer) coreBwlimit(_ context.Context, p params, _ *job) (any, error) {
	r, err := p.str("rate")
	if err != nil {
		return nil, err
	}
	if r != "" {
		bps, err := parseRate(r)
		if err != nil {
			return nil, err
		}
		setLimit(s.limiter, bps)
	}
	return agentapi.Bandwidth{Rate: formatRate(limitOf(s.limiter))}, nil
}

func (s *rcServer) coreTransfers(_ context.Context, p params, _ *job) (any, error) {
	n, err := p.int("transfers", 0)
	if err != nil {
		return nil, err
	}
	if n < 0 || n > 1024 {
		return nil, badRequest("invalid parameter \"transfers\" %d: want 1..1024 (0 = query)", n)
	}
	if n > 0 {
		s.transfers.Store(n)
	}
	return agentapi.Transfers{Transfers: int(s.transfers.Load())}, nil
}

func (s *rcServer) coreStatsReset(_ context.Context, p params, _ *job) (any, error) {
	g, err := p.str("group")
	if err != nil {
		return nil, err
	}
	if g == "" {
		for _, j := range s.jobs.all() {
			j.resetStats()
		}
		return nil, nil
	}
	ids, ok := strings.CutPrefix(g, "job/")
	id, err := strconv.ParseInt(ids, 10, 64)
	if !ok || err != nil {
		return nil, badRequest("invalid parameter \"group\" %q: want job/<id>", g)
	}
	if j := s.jobs.get(id); j != nil {
		j.resetStats()
	}
	return nil, nil
}

func (s *rcServer) jobParams(p params) (int64, time.Duration, error) {
	id, err := p.int("jobid", -1)
	if err != nil {
		return 0, 0, err
	}
	if id < 0 {
		return 0, 0, badRequest("missing parameter \"jobid\"")
	}
	wait, err := p.int("wait", 0)
	if err != nil {
		return 0, 0, err
	}
	if wait < 0 || wait > 3600 {
		return 0, 0, badRequest("invalid parameter \"wait\" %d: want seconds in 0..3600", wait)
	}
	return id, time.Duration(wait) * time.Second, nil
}

func (s *rcServer) jobInfo(ctx context.Context, p params, _ *job) (any, error) {
	id, d, err := s.jobParams(p)
	if err != nil {
		return nil, err
	}
	j := s.jobs.get(id)
	if j == nil {
		return nil, withStatus(http.StatusNotFound, fmt.Errorf("job not found: %d", id))
	}
	wait(ctx, j, d)
	return j.info(), nil
}

func (s *rcServer) jobProgress(ctx context.Context, p params, _ *job) (any, error) {
	id, d, err := s.jobParams(p)
	if err != nil {
		return nil, err
	}
	j := s.jobs.get(id)
	if j == nil {
		return agentapi.JobProgress{Status: agentapi.JobNotFound}, nil
	}
	wait(ctx, j, d)
	return j.progress(), nil
}

func (s *rcServer) jobStop(_ context.Context, p params, _ *job) (any, error) {
	id, _, err := s.jobParams(p)
	if err != nil {
		return nil, err
	}
	j := s.jobs.get(id)
	if j == nil {
		return nil, withStatus(http.StatusNotFound, fmt.Errorf("job not found: %d", id))
	}
	j.cancel(errJobStopped)
	return nil, nil
}

// writeRaw is used by cat: JSON errors before the first byte, raw content
// after.
func writeRawHeader(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/octet-stream")
	w.WriteHeader(http.StatusOK)
}

// syncJobKey identifies the work of a sync or copyfile call: the call
// with its locations and paths (not its tuning: transfers, bandwidth).
func syncJobKey(name string, p params) string {
	k := map[string]any{"call": name}
	for _, f := range []string{"srcFs", "srcRemote", "dstFs", "dstRemote", "suffix", "paths"} {
		k[f] = p[f]
	}
	b, _ := json.Marshal(k)
	return string(b)
}
