package agent

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"path/filepath"
	"strings"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/scyllaops/scyllaops/internal/agentapi"
)

// isVersioned reports whether name ends in a snapshot-tag version suffix
// ".sm_YYYYMMDDhhmmssUTC".
func isVersioned(name string) bool {
	const n = len(".sm_") + 14 + len("UTC")
	if len(name) < n {
		return false
	}
	s := name[len(name)-n:]
	if !strings.HasPrefix(s, ".sm_") || !strings.HasSuffix(s, "UTC") {
		return false
	}
	for _, c := range s[4 : 4+14] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// open returns the bucket and location named by p[fsKey], p[remoteKey].
func (s *rcServer) open(ctx context.Context, p params, fsKey, remoteKey string) (*blob.Bucket, location, error) {
	loc, err := location2(p, fsKey, remoteKey)
	if err != nil {
		return nil, location{}, err
	}
	b, err := s.buckets.get(ctx, loc)
	if err != nil {
		return nil, location{}, err
	}
	return b, loc, nil
}

func (s *rcServer) opAbout(_ context.Context, p params, _ *job) (any, error) {
	loc, err := location2(p, "fs", "remote")
	if err != nil {
		return nil, err
	}
	if !loc.local() {
		return nil, badRequest("operations/about is supported only for data:, not %s", loc.provider)
	}
	st, err := s.a.diskUsage(filepath.Join(s.a.opts.DataDir, filepath.FromSlash(loc.key)))
	if err != nil {
		return nil, fmt.Errorf("about %s: %w", loc, err)
	}
	return st, nil
}

func (s *rcServer) opFileInfo(ctx context.Context, p params, _ *job) (any, error) {
	b, loc, err := s.open(ctx, p, "fs", "remote")
	if err != nil {
		return nil, err
	}
	a, err := b.Attributes(ctx, loc.key)
	if err != nil {
		return nil, fmt.Errorf("fileinfo %s: %w", loc, err)
	}
	return agentapi.FileInfo{ModTime: a.ModTime, Size: a.Size}, nil
}

// opCat streams a small file. Like upstream, it is restricted to backup
// metadata, schema and .crc32 digests.
func (s *rcServer) opCat(w http.ResponseWriter, r *http.Request, p params) {
	const name = agentapi.CallOperationsCat
	b, loc, err := s.open(r.Context(), p, "fs", "remote")
	if err != nil {
		s.writeError(w, name, p, err)
		return
	}
	k := "/" + loc.key
	if !strings.Contains(k, "/backup/meta/") && !strings.Contains(k, "/backup/schema/") && !strings.HasSuffix(k, ".crc32") {
		s.writeError(w, name, p, withStatus(http.StatusForbidden,
			fmt.Errorf("cat of %s not allowed: only paths under backup/meta/ or backup/schema/ and names ending in .crc32", loc)))
		return
	}
	rd, err := b.NewReader(r.Context(), loc.key, nil)
	if err != nil {
		s.writeError(w, name, p, fmt.Errorf("cat %s: %w", loc, err))
		return
	}
	defer rd.Close()
	writeRawHeader(w)
	if _, err := io.Copy(w, rd); err != nil {
		s.a.log.Warn("cat aborted", "remote", loc.String(), "err", err)
		panic(http.ErrAbortHandler)
	}
}

// opPut streams the request body into fs:remote (from the query).
func (s *rcServer) opPut(w http.ResponseWriter, r *http.Request) {
	const name = agentapi.CallOperationsPut
	p := params{}
	for k, v := range r.URL.Query() {
		p[k] = v[0]
	}
	b, loc, err := s.open(r.Context(), p, "fs", "remote")
	if err == nil && loc.key == "" {
		err = badRequest("missing parameter \"remote\": want the path of the file to write")
	}
	if err != nil {
		s.writeError(w, name, p, err)
		return
	}
	j := newJob(0, nil)
	_, err = s.copyStream(r.Context(), j, r.Body, b, loc.key, -1, nil, nil)
	if err != nil {
		s.writeError(w, name, p, fmt.Errorf("put %s: %w", loc, err))
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

// opList streams {"list":[...]}, flushing every ListChunkSize items; the
// listing is never held in memory.
func (s *rcServer) opList(w http.ResponseWriter, r *http.Request, p params) {
	const name = agentapi.CallOperationsList
	ctx := r.Context()
	b, loc, err := s.open(ctx, p, "fs", "remote")
	opt, oerr := p.obj("opt")
	newest, nerr := p.bool("newestOnly")
	versioned, verr := p.bool("versionedOnly")
	if err = errors.Join(err, oerr, nerr, verr); err != nil {
		s.writeError(w, name, p, err)
		return
	}
	var flags [5]bool
	for i, k := range []string{"recurse", "dirsOnly", "filesOnly", "showHash", "noModTime"} {
		if flags[i], err = opt.bool(k); err != nil {
			s.writeError(w, name, p, err)
			return
		}
	}
	recurse, dirsOnly, filesOnly, showHash, noModTime := flags[0], flags[1], flags[2], flags[3], flags[4]
	prefix := loc.key
	if prefix != "" {
		prefix += "/"
	}
	// Like rclone, each Path is relative to fs, so it starts with a
	// non-empty remote: fsPrefix is the key of fs itself.
	fsPrefix := ""
	if fs, _ := p.str("fs"); fs != "" {
		if fl, ferr := parseLocation(fs, ""); ferr == nil && fl.key != "" {
			fsPrefix = fl.key + "/"
		}
	}
	lo := &blob.ListOptions{Prefix: prefix}
	if !recurse {
		lo.Delimiter = "/"
	}
	it := list(b, lo)
	first, err := it.Next(ctx)
	if err != nil && !errors.Is(err, io.EOF) {
		s.writeError(w, name, p, fmt.Errorf("list %s: %w", loc, err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 32<<10)
	enc := json.NewEncoder(bw)
	_, _ = bw.WriteString(`{"list":[`)
	n := 0
	obj := first
	for obj != nil {
		rel := strings.TrimSuffix(strings.TrimPrefix(obj.Key, prefix), "/")
		keep := rel != "" && (!dirsOnly || obj.IsDir) && (!filesOnly || !obj.IsDir)
		if keep && !obj.IsDir {
			v := isVersioned(rel)
			keep = (!newest || !v) && (!versioned || v)
		}
		if keep {
			item := agentapi.ListItem{Path: strings.TrimSuffix(strings.TrimPrefix(obj.Key, fsPrefix), "/"), Name: path.Base(rel), Size: obj.Size, IsDir: obj.IsDir}
			if obj.IsDir {
				item.Size = -1
			} else if !noModTime {
				item.ModTime = obj.ModTime
			}
			if showHash && len(obj.MD5) > 0 {
				item.Hashes = map[string]string{"md5": hex.EncodeToString(obj.MD5)}
			}
			if n > 0 {
				_ = bw.WriteByte(',')
			}
			_ = enc.Encode(item)
			n++
			if n%agentapi.ListChunkSize == 0 {
				if err := bw.Flush(); err != nil {
					return // client went away
				}
				if f, ok := w.(http.Flusher); ok {
					f.Flush()
				}
			}
		}
		obj, err = it.Next(ctx)
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			s.a.log.Warn("list aborted", "remote", loc.String(), "err", err)
			_ = bw.Flush()
			panic(http.ErrAbortHandler)
		}
	}
	_, _ = bw.WriteString("]}\n")
	_ = bw.Flush()
}

func (s *rcServer) srcDst(ctx context.Context, p params) (src, dst *blob.Bucket, sl, dl location, err error) {
	src, sl, err = s.open(ctx, p, "srcFs", "srcRemote")
	if err != nil {
		return
	}
	dst, dl, err = s.open(ctx, p, "dstFs", "dstRemote")
	return
}

func (s *rcServer) opCopyFile(ctx context.Context, p params, j *job) (any, error) {
	src, dst, sl, dl, err := s.srcDst(ctx, p)
	if err != nil {
		return nil, err
	}
	return nil, s.copyFile(ctx, j, src, sl, dst, dl, false)
}

func (s *rcServer) opMoveFile(ctx context.Context, p params, j *job) (any, error) {
	src, dst, sl, dl, err := s.srcDst(ctx, p)
	if err != nil {
		return nil, err
	}
	sameDir := sl.provider == dl.provider && sl.bucket == dl.bucket && path.Dir(sl.key) == path.Dir(dl.key)
	if !sameDir && !sl.local() {
		return nil, withStatus(http.StatusForbidden, fmt.Errorf("movefile from %s to %s not allowed: only within one directory or from the data: remote", sl, dl))
	}
	return nil, s.copyFile(ctx, j, src, sl, dst, dl, true)
}

// copyFile copies (and with move, then deletes) one file; within one
// bucket it uses the provider's server-side copy.
func (s *rcServer) copyFile(ctx context.Context, j *job, src *blob.Bucket, sl location, dst *blob.Bucket, dl location, move bool) error {
	if sl.key == "" || dl.key == "" {
		return badRequest("missing file path: srcRemote and dstRemote must name files")
	}
	if sl == dl {
		return nil
	}
	if src == dst {
		if err := src.Copy(ctx, dl.key, sl.key, nil); err != nil {
			return fmt.Errorf("copy %s to %s: %w", sl, dl, err)
		}
	} else {
		a, err := src.Attributes(ctx, sl.key)
		if err != nil {
			return fmt.Errorf("copy %s: %w", sl, err)
		}
		if _, err := s.transfer(ctx, j, src, sl.key, a, dst, dl.key, "", &sl); err != nil {
			return fmt.Errorf("copy %s to %s: %w", sl, dl, err)
		}
	}
	if move {
		if err := src.Delete(ctx, sl.key); err != nil {
			return fmt.Errorf("move %s: delete source: %w", sl, err)
		}
	}
	return nil
}

func (s *rcServer) opDeleteFile(ctx context.Context, p params, _ *job) (any, error) {
	b, loc, err := s.open(ctx, p, "fs", "remote")
	if err != nil {
		return nil, err
	}
	if loc.key == "" {
		return nil, badRequest("missing parameter \"remote\": want the file to delete")
	}
	if err := b.Delete(ctx, loc.key); err != nil {
		return nil, fmt.Errorf("delete %s: %w", loc, err)
	}
	return nil, nil
}

func (s *rcServer) opPurge(ctx context.Context, p params, j *job) (any, error) {
	b, loc, err := s.open(ctx, p, "fs", "remote")
	if err != nil {
		return nil, err
	}
	if loc.local() && loc.key == "" {
		return nil, withStatus(http.StatusForbidden, errors.New("purge of the whole data directory is not allowed"))
	}
	prefix := loc.key
	if prefix != "" {
		prefix += "/"
	}
	it := list(b, &blob.ListOptions{Prefix: prefix})
	for {
		obj, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("purge %s: %w", loc, err)
		}
		if err := b.Delete(ctx, obj.Key); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
			return nil, fmt.Errorf("purge %s: %w", loc, err)
		}
		j.deletes.Add(1)
	}
	if loc.local() {
		removeEmptyDirs(b, loc.key)
	}
	return nil, nil
}

func (s *rcServer) opDeletePaths(ctx context.Context, p params, _ *job) (any, error) {
	b, loc, err := s.open(ctx, p, "fs", "remote")
	if err != nil {
		return nil, err
	}
	paths, err := p.strs("paths")
	if err != nil {
		return nil, err
	}
	var n int64
	for _, rel := range paths {
		l, err := loc.join(rel)
		if err != nil {
			return nil, err
		}
		if l.key == loc.key {
			return nil, badRequest("invalid path %q in paths: want a file below remote", rel)
		}
		switch err := b.Delete(ctx, l.key); {
		case err == nil:
			n++
		case gcerrors.Code(err) == gcerrors.NotFound:
		default:
			return agentapi.DeletePathsResponse{Deletes: n}, fmt.Errorf("delete %s: %w", l, err)
		}
	}
	return agentapi.DeletePathsResponse{Deletes: n}, nil
}

// opCheckPermissions writes, lists, reads and deletes a probe object.
func (s *rcServer) opCheckPermissions(ctx context.Context, p params, _ *job) (any, error) {
	b, loc, err := s.open(ctx, p, "fs", "remote")
	if err != nil {
		return nil, err
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	dir := joinKey(loc.key, "scyllaops-check-"+hex.EncodeToString(rnd[:]))
	key := dir + "/probe"
	content := []byte("scyllaops permission probe")
	fail := func(what string, err error) error {
		return withStatus(http.StatusBadRequest, fmt.Errorf("no %s permission on %s: %w", what, loc, err))
	}
	if err := b.WriteAll(ctx, key, content, nil); err != nil {
		return nil, fail("put", err)
	}
	defer func() { _ = b.Delete(context.WithoutCancel(ctx), key) }()
	it := list(b, &blob.ListOptions{Prefix: dir + "/"})
	obj, err := it.Next(ctx)
	if err != nil || obj.Key != key {
		if err == nil {
			err = fmt.Errorf("listed %q", obj.Key)
		}
		return nil, fail("list", err)
	}
	got, err := b.ReadAll(ctx, key)
	if err != nil || string(got) != string(content) {
		if err == nil {
			err = errors.New("content differs")
		}
		return nil, fail("get", err)
	}
	if err := b.Delete(ctx, key); err != nil {
		return nil, fail("delete", err)
	}
	if loc.local() {
		removeEmptyDirs(b, dir)
	}
	return struct{}{}, nil
}
