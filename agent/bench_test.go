package agent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"

	"github.com/scyllaops/scyllaops/agent"
)

// BenchmarkUploadHeap uploads one large file (1 GiB; env
// SCYLLAOPS_BENCH_UPLOAD_BYTES overrides) from the data dir to a fileblob
// bucket through the agent handler (sync/copydir job, job/progress long
// poll) while sampling the heap every 2 ms. It reports the peak heap and
// fails when it reaches 64 MiB.
func BenchmarkUploadHeap(b *testing.B) {
	size := int64(1 << 30)
	if s := os.Getenv("SCYLLAOPS_BENCH_UPLOAD_BYTES"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			b.Fatal(err)
		}
		size = n
	}
	dir := b.TempDir()
	dataDir := filepath.Join(dir, "data")
	src := filepath.Join(dataDir, "ks", "t-1", "snapshots", "s")
	if err := os.MkdirAll(src, 0o755); err != nil {
		b.Fatal(err)
	}
	// Real (non-sparse) content, written in 1 MiB blocks.
	f, err := os.Create(filepath.Join(src, "me-1-big-Data.db"))
	if err != nil {
		b.Fatal(err)
	}
	block := make([]byte, 1<<20)
	for i := range block {
		block[i] = byte(i * 31)
	}
	for w := int64(0); w < size; w += int64(len(block)) {
		if _, err := f.Write(block[:min(int64(len(block)), size-w)]); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	block = nil
	bk, err := fileblob.OpenBucket(filepath.Join(dir, "bucket"), &fileblob.Options{CreateDir: true, NoTempDir: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = bk.Close() })
	a, err := agent.New(agent.Options{DataDir: dataDir, OpenBucket: func(context.Context, string, string) (*blob.Bucket, error) { return bk, nil }})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = a.Close() })

	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(sample)
	base := sample[0].Value.Uint64()
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	})

	b.SetBytes(size)
	b.ResetTimer()
	for i := range b.N {
		w := do(a, http.MethodPost, "/agent/rclone/sync/copydir?_async=true", "",
			fmt.Sprintf(`{"srcFs":"data:","srcRemote":"ks/t-1/snapshots/s","dstFs":"s3:bench","dstRemote":"run%d"}`, i))
		var j struct {
			JobID int64 `json:"jobid"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &j); err != nil || w.Code != 200 {
			b.Fatalf("copydir = %d %s", w.Code, w.Body.String())
		}
		for {
			w := do(a, http.MethodPost, "/agent/rclone/job/progress", "", fmt.Sprintf(`{"jobid":%d,"wait":10}`, j.JobID))
			var p struct {
				Status   string `json:"status"`
				Error    string `json:"error"`
				Uploaded int64  `json:"uploaded"`
			}
			_ = json.Unmarshal(w.Body.Bytes(), &p)
			if p.Status == "running" {
				continue
			}
			if p.Status != "success" || p.Uploaded != size {
				b.Fatalf("upload job = %+v", p)
			}
			break
		}
	}
	b.StopTimer()
	close(stop)
	wg.Wait()
	const mib = 1 << 20
	b.ReportMetric(float64(peak.Load())/mib, "peak-heap-MiB")
	b.ReportMetric(float64(base)/mib, "base-heap-MiB")
	b.Logf("file %d MiB: heap objects before %.1f MiB, peak during upload %.1f MiB", size/mib, float64(base)/mib, float64(peak.Load())/mib)
	if peak.Load() >= 64*mib {
		b.Fatalf("peak heap %.1f MiB >= 64 MiB", float64(peak.Load())/mib)
	}
}
