package scyllatest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/scyllaops/scyllaops/internal/agentapi"
)

// DownloadRecord is one copy into a node's data directory that its agent
// accepted (sync/copypaths or operations/copyfile with dstFs "data:"):
// what a restore asked the node to download.
type DownloadRecord struct {
	// Host is the node's IP; Dir the destination directory under data:.
	Host, Dir string
	// Files are the destination file names; Src the source remote and
	// directory ("s3:bucket/backup/sst/...").
	Files []string
	Src   string
	// Call is the agent call: sync/copypaths or operations/copyfile.
	Call string
	// JobID is the agent job that copies them (0: a synchronous call).
	// A call identical to a running job's gets that job: one download.
	JobID int64
	// At is when the agent accepted the call.
	At time.Time
}

// Downloads returns every copy into a data directory the agents accepted,
// in order, so a test can check that nothing was downloaded twice (two
// records with one JobID are one download).
func (c *Cluster) Downloads() []DownloadRecord {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]DownloadRecord, len(c.downloads))
	for i, d := range c.downloads {
		d.Files = append([]string(nil), d.Files...)
		out[i] = d
	}
	return out
}

// FailDownloads makes every node's agent refuse, with rclone's 404
// "object not found", each copy into a data directory that names one of
// files (destination file names), until FailDownloads is called again;
// no names clears it. The refused calls are not recorded as downloads.
func (c *Cluster) FailDownloads(files ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failDownloads = map[string]bool{}
	for _, f := range files {
		c.failDownloads[f] = true
	}
}

// recordDownloads wraps n's agent handler: the copies into data: it
// accepts are appended to the cluster's download record.
func (c *Cluster) recordDownloads(n *Node, h http.Handler) http.Handler {
	copyPaths := agentapi.PathRclone + agentapi.CallSyncCopyPaths
	copyFile := agentapi.PathRclone + agentapi.CallOperationsCopyFile
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || (r.URL.Path != copyPaths && r.URL.Path != copyFile) {
			h.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, agentapi.MaxRCBodyBytes+1))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := DownloadRecord{Host: n.IP, Call: strings.TrimPrefix(r.URL.Path, agentapi.PathRclone)}
		if r.URL.Path == copyPaths {
			var o agentapi.CopyPathsOptions
			if json.Unmarshal(body, &o) == nil && o.DstFs == "data:" {
				rec.Dir, rec.Files, rec.Src = o.DstRemote, o.Paths, path.Join(o.SrcFs, o.SrcRemote)
			}
		} else {
			var o agentapi.MoveOrCopyFileOptions
			if json.Unmarshal(body, &o) == nil && o.DstFs == "data:" {
				rec.Dir, rec.Files, rec.Src = path.Dir(o.DstRemote), []string{path.Base(o.DstRemote)}, path.Join(o.SrcFs, path.Dir(o.SrcRemote))
			}
		}
		c.mu.Lock()
		failing := ""
		for _, f := range rec.Files {
			if c.failDownloads[f] {
				failing = f
			}
		}
		c.mu.Unlock()
		if failing != "" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_ = json.NewEncoder(w).Encode(agentapi.ErrorResponse{Status: http.StatusNotFound, Path: strings.TrimPrefix(r.URL.Path, agentapi.PathRclone),
				Message: "object not found: " + failing + " (scyllatest.FailDownloads)"})
			return
		}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		if rec.Files != nil && sw.status == http.StatusOK {
			rec.At = time.Now()
			rec.JobID, _ = strconv.ParseInt(w.Header().Get(agentapi.HeaderJobID), 10, 64)
			c.mu.Lock()
			c.downloads = append(c.downloads, rec)
			c.mu.Unlock()
		}
	})
}

// statusWriter remembers the status code written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// Flush forwards to the wrapped writer (long polls flush).
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
