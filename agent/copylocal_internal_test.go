package agent

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func crcHex(b []byte) string {
	return hex.EncodeToString(binary.BigEndian.AppendUint32(nil, crc32.Checksum(b, castagnoli)))
}

func randBytes(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// directSupported reports whether the file system of dir takes O_DIRECT.
func directSupported(t *testing.T, dir string) bool {
	t.Helper()
	f, err := os.CreateTemp(dir, "probe")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	return setDirectIO(f, true)
}

// TestRootWriterDirectIO: large aligned writes go around the page cache,
// unaligned ones (memory or length) are written buffered, in any order,
// and the file holds exactly the bytes written, with their CRC32C stored.
func TestRootWriterDirectIO(t *testing.T) {
	dir := t.TempDir()
	direct := directSupported(t, dir)
	bk, err := openRootBucket(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	defer bk.Close()
	rb := localBucket(bk)
	if rb == nil {
		t.Fatal("localBucket of a root bucket: nil")
	}
	w, err := rb.newWriter(t.Context(), "ks/t-1/upload/f-Data.db")
	if err != nil {
		t.Fatal(err)
	}
	data := randBytes(5<<20 + 777)
	buf := alignedBuf(localWriteBufSize + directAlign)
	var want bytes.Buffer
	write := func(p []byte, wantDirect bool) {
		t.Helper()
		if n, err := w.Write(p); err != nil || n != len(p) {
			t.Fatalf("write %d bytes: %d, %v", len(p), n, err)
		}
		want.Write(p)
		if w.directOn != (wantDirect && direct) {
			t.Fatalf("after a %d-byte write at %d: O_DIRECT %v, want %v (file system takes it: %v)", len(p), w.off-int64(len(p)), w.directOn, wantDirect && direct, direct)
		}
	}
	next := func(off, n int, aligned bool) []byte {
		b := buf[:n]
		if !aligned {
			b = buf[1 : n+1]
		}
		copy(b, data[off:off+n])
		return b
	}
	write(next(0, 1<<20, true), true)
	write(next(1<<20, 1<<20, true), true)
	write(next(2<<20, 512<<10, false), false) // memory not aligned
	write(next(2<<20+512<<10, 1<<20, true), true)
	write(next(3<<20+512<<10, 4096, true), false) // too small to be worth it
	write(next(3<<20+516<<10, 1<<20-4096-100, true), false)
	write(data[want.Len():], false)
	if !bytes.Equal(want.Bytes(), data) {
		t.Fatal("test bug: the writes do not cover the data")
	}
	if got := w.sum(); got != crcHex(data) {
		t.Fatalf("writer crc32c %s, want %s", got, crcHex(data))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "ks", "t-1", "upload", "f-Data.db"))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("file content differs from the bytes written (%d of %d bytes, %v)", len(got), len(data), err)
	}
	a, err := bk.Attributes(t.Context(), "ks/t-1/upload/f-Data.db")
	if err != nil {
		t.Fatal(err)
	}
	if s := a.Metadata[metaCRC32C]; s != "" && s != crcHex(data) {
		t.Fatalf("stored crc32c %s, want %s", s, crcHex(data))
	}
}

// failAfter returns its data up to n bytes, then err.
type failAfter struct {
	r   io.Reader
	n   int
	err error
}

func (f *failAfter) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, f.err
	}
	if len(p) > f.n {
		p = p[:f.n]
	}
	n, err := f.r.Read(p)
	f.n -= n
	return n, err
}

// TestCopyToLocalVerifies: the local download path checks size and the
// source's stored CRC32C before the file gets its name; a failed check, a
// source that breaks off (a killed or canceled transfer) or a destination
// through a symlink leading out of the root leaves nothing under the name
// and no temporary file.
func TestCopyToLocalVerifies(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(dir, "escape")); err != nil {
		t.Fatal(err)
	}
	rb := openLocal(t, dir)
	data := randBytes(3<<20 + 5)
	good := crcHex(data)
	bad := "0badc0de"
	if good == bad {
		t.Fatal("test bug")
	}
	cases := []struct {
		name     string
		key      string
		r        io.Reader
		want     int64
		meta     map[string]string
		errHas   string
		status   int
		complete bool
	}{
		{name: "good", key: "ks/t/good", r: bytes.NewReader(data), want: int64(len(data)), meta: map[string]string{"crc32c": good}, complete: true},
		{name: "no stored checksum", key: "ks/t/none", r: bytes.NewReader(data), want: int64(len(data)), complete: true},
		{name: "wrong crc32c", key: "ks/t/bad", r: bytes.NewReader(data), want: int64(len(data)), meta: map[string]string{"crc32c": bad}, errHas: "crc32c"},
		{name: "wrong size", key: "ks/t/short", r: bytes.NewReader(data[:len(data)-1]), want: int64(len(data)), meta: map[string]string{"crc32c": good}, errHas: "size"},
		{name: "broken off", key: "ks/t/killed", r: &failAfter{r: bytes.NewReader(data), n: 2 << 20, err: errors.New("connection reset")}, want: int64(len(data)), errHas: "connection reset"},
		{name: "symlink escape", key: "escape/t/f", r: bytes.NewReader(data), want: int64(len(data)), errHas: "escape", status: http.StatusForbidden},
	}
	for _, c := range cases {
		n, err := copyToLocal(t.Context(), rb, c.key, c.want, c.meta, c.r)
		_, serr := os.Stat(filepath.Join(dir, filepath.FromSlash(c.key)))
		if c.complete {
			if err != nil || n != int64(len(data)) {
				t.Fatalf("%s: %d bytes, %v", c.name, n, err)
			}
			if got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(c.key))); err != nil || !bytes.Equal(got, data) {
				t.Fatalf("%s: content differs (%d bytes, %v)", c.name, len(got), err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.errHas) {
			t.Fatalf("%s: error %v, want one naming %q", c.name, err, c.errHas)
		}
		if c.status != 0 && statusOf(err) != c.status {
			t.Fatalf("%s: status %d, want %d", c.name, statusOf(err), c.status)
		}
		if !os.IsNotExist(serr) {
			t.Fatalf("%s: a file that failed is under its name: %v", c.name, serr)
		}
	}
	for _, d := range []string{dir, outside} {
		_ = filepath.WalkDir(d, func(p string, e os.DirEntry, err error) error {
			if err == nil && strings.HasPrefix(e.Name(), tmpPrefix) {
				t.Errorf("temporary file left: %s", p)
			}
			if d == outside && err == nil && !e.IsDir() {
				t.Errorf("written outside the root: %s", p)
			}
			return nil
		})
	}
}

// failingWriter accepts ok writes, then fails.
type failingWriter struct {
	ok  int
	got bytes.Buffer
}

func (f *failingWriter) Write(p []byte) (int, error) {
	if f.ok == 0 {
		return 0, errors.New("disk full")
	}
	f.ok--
	return f.got.Write(p)
}

// TestPipeCopy: the overlapped copy writes the source unchanged in full
// buffers, whatever sizes its reads return, and stops at the first write
// error (reporting it and only the bytes written).
func TestPipeCopy(t *testing.T) {
	data := randBytes(3*localWriteBufSize + 12345)
	var out bytes.Buffer
	rec := &writeRecorder{}
	n, err := pipeCopy(rec, io.MultiReader(bytes.NewReader(data[:1000]), bytes.NewReader(data[1000:])))
	out.Write(rec.buf.Bytes())
	if err != nil || n != int64(len(data)) || !bytes.Equal(out.Bytes(), data) {
		t.Fatalf("pipeCopy: %d of %d bytes, %v, equal %v", n, len(data), err, bytes.Equal(out.Bytes(), data))
	}
	if len(rec.writes) != 4 || rec.writes[0] != localWriteBufSize || rec.writes[3] != 12345 {
		t.Fatalf("writes of %v bytes, want 3 full buffers and the rest", rec.writes)
	}
	fw := &failingWriter{ok: 1}
	n, err = pipeCopy(fw, bytes.NewReader(data))
	if err == nil || !strings.Contains(err.Error(), "disk full") || n != localWriteBufSize {
		t.Fatalf("pipeCopy into a failing writer: %d bytes, %v; want %d and the write error", n, err, localWriteBufSize)
	}
}

// TestDirectReader: a local file read around the page cache in aligned
// buffers, and one read with an unaligned buffer part of the way (which
// turns direct I/O off), both give the file's exact bytes and then
// io.EOF.
func TestDirectReader(t *testing.T) {
	dir := t.TempDir()
	if !directSupported(t, dir) {
		t.Skip("the file system of the test directory refuses O_DIRECT")
	}
	data := randBytes(3*localWriteBufSize + 5000)
	name := filepath.Join(dir, "f")
	if err := os.WriteFile(name, data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, unaligned := range []bool{false, true} {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		r := newDirectReader(f)
		if r == nil || !r.direct {
			t.Fatal("newDirectReader of a file at offset 0: not direct")
		}
		var got bytes.Buffer
		buf := alignedBuf(localWriteBufSize + directAlign)
		for i := 0; ; i++ {
			p := buf[:localWriteBufSize]
			if unaligned && i == 1 {
				p = buf[1 : localWriteBufSize+1]
			}
			n, err := io.ReadFull(r, p)
			got.Write(p[:n])
			if i == 0 && !r.direct {
				t.Fatal("direct I/O off after an aligned read")
			}
			if unaligned && i == 1 && r.direct {
				t.Fatal("direct I/O still on after an unaligned read")
			}
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				break
			}
			if err != nil {
				t.Fatalf("unaligned %v: read %d: %v", unaligned, i, err)
			}
		}
		r.close()
		f.Close()
		if !bytes.Equal(got.Bytes(), data) {
			t.Fatalf("unaligned %v: read %d bytes differing from the file's %d", unaligned, got.Len(), len(data))
		}
	}
}

// openLocal opens dir as a local (root) bucket, closed with the test, and
// returns its driver.
func openLocal(t *testing.T, dir string) *rootBucket {
	t.Helper()
	bk, err := openRootBucket(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bk.Close() })
	return localBucket(bk)
}
