package agent

import (
	"bytes"
	"net"
	"testing"
)

// writeRecorder is a net.Conn that records the size of every write.
type writeRecorder struct {
	net.Conn
	buf    bytes.Buffer
	writes []int
}

func (w *writeRecorder) Write(p []byte) (int, error) {
	w.writes = append(w.writes, len(p))
	return w.buf.Write(p)
}

// TestBigWriteConn: a body streamed into an S3 connection goes out in
// writes of s3WriteChunk bytes (not io.Copy's 32 KiB), unchanged.
func TestBigWriteConn(t *testing.T) {
	data := randBytes(4*s3WriteChunk + 1)
	rec := &writeRecorder{}
	n, err := bigWriteConn{rec}.ReadFrom(struct{ *bytes.Reader }{bytes.NewReader(data)})
	if err != nil || n != int64(len(data)) {
		t.Fatalf("ReadFrom: %d, %v", n, err)
	}
	if !bytes.Equal(rec.buf.Bytes(), data) {
		t.Fatal("the connection received other bytes than the body's")
	}
	if len(rec.writes) != 5 || rec.writes[0] != s3WriteChunk || rec.writes[4] != 1 {
		t.Fatalf("writes of %v bytes, want 4 of %d and 1 of 1", rec.writes, s3WriteChunk)
	}
	c := s3HTTPClient()
	if c.GetTransport().DialContext == nil {
		t.Fatal("the S3 client's transport has no dialer wrapping its connections")
	}
}
