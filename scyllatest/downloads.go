package scyllatest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"path"
	"strconv"
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
		rec := DownloadRecord{Host: n.IP}
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
