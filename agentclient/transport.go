package agentclient

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// ErrNoHandler is the cause of ErrUnreachable errors from an
// InProcessTransport with no handler registered for the host.
var ErrNoHandler = errors.New("agentclient: no in-process handler for host")

// InProcessTransport is an http.RoundTripper that routes each request by
// its host to a registered http.Handler, without sockets. The handler runs
// on its own goroutine and streams its answer through a pipe, so long
// polls and streamed listings behave as over TCP. The goroutine is owned
// by the response body: Close cancels the handler's context and waits for
// it to return.
type InProcessTransport struct {
	mu       sync.RWMutex
	handlers map[string]http.Handler
}

// NewInProcessTransport returns a transport with no handlers.
func NewInProcessTransport() *InProcessTransport {
	return &InProcessTransport{handlers: make(map[string]http.Handler)}
}

// Register routes requests for host to h. host is "host" (any port) or
// "host:port" (that port only, tried first). It replaces an earlier
// registration.
func (t *InProcessTransport) Register(host string, h http.Handler) {
	t.mu.Lock()
	t.handlers[host] = h
	t.mu.Unlock()
}

// Unregister removes the handler of host; later requests to it fail with
// ErrNoHandler (as an unreachable host would).
func (t *InProcessTransport) Unregister(host string) {
	t.mu.Lock()
	delete(t.handlers, host)
	t.mu.Unlock()
}

func (t *InProcessTransport) lookup(hostport string) http.Handler {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if h, ok := t.handlers[hostport]; ok {
		return h
	}
	if host, _, err := net.SplitHostPort(hostport); err == nil {
		return t.handlers[host]
	}
	return nil
}

// RoundTrip implements http.RoundTripper.
func (t *InProcessTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	h := t.lookup(req.URL.Host)
	if h == nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, fmt.Errorf("%w %q", ErrNoHandler, req.URL.Host)
	}
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(req.Context())
	sreq := req.Clone(ctx)
	sreq.RequestURI = req.URL.RequestURI()
	sreq.Host = req.URL.Host
	sreq.RemoteAddr = "127.0.0.1:1"
	if sreq.Body == nil {
		sreq.Body = http.NoBody
	}
	pr, pw := io.Pipe()
	w := &pipeWriter{header: make(http.Header), pw: pw, ready: make(chan struct{}), req: req}
	done := make(chan struct{})
	go func() {
		defer close(done)
		// RoundTripper contract: the request body is closed, here once
		// the handler is done with it.
		defer sreq.Body.Close()
		defer func() {
			if p := recover(); p != nil && p != http.ErrAbortHandler { //nolint:errorlint // sentinel panic value
				w.abort(fmt.Errorf("agentclient: in-process handler panic: %v", p))
				return
			} else if p != nil {
				w.abort(errors.New("agentclient: in-process handler aborted the response"))
				return
			}
			w.finish()
		}()
		h.ServeHTTP(w, sreq)
	}()
	select {
	case <-w.ready:
	case <-ctx.Done():
		pr.CloseWithError(ctx.Err())
		cancel()
		<-done
		return nil, ctx.Err()
	}
	if w.err != nil && !w.headerSent {
		cancel()
		<-done
		return nil, w.err
	}
	resp := w.response()
	resp.Body = &pipeBody{pr: pr, cancel: cancel, done: done}
	return resp, nil
}

// pipeWriter is the handler-side ResponseWriter.
type pipeWriter struct {
	header     http.Header
	pw         *io.PipeWriter
	req        *http.Request
	once       sync.Once
	ready      chan struct{}
	status     int
	sent       http.Header
	headerSent bool
	err        error
}

func (w *pipeWriter) Header() http.Header { return w.header }

func (w *pipeWriter) WriteHeader(code int) {
	if code >= 100 && code < 200 {
		return
	}
	w.once.Do(func() {
		w.status = code
		w.sent = w.header.Clone()
		w.headerSent = true
		close(w.ready)
	})
}

func (w *pipeWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.pw.Write(b)
}

// Flush is a no-op: writes reach the reader unbuffered.
func (w *pipeWriter) Flush() {}

func (w *pipeWriter) finish() {
	w.WriteHeader(http.StatusOK)
	w.pw.Close()
}

func (w *pipeWriter) abort(err error) {
	w.once.Do(func() {
		w.err = err
		close(w.ready)
	})
	w.pw.CloseWithError(err)
}

func (w *pipeWriter) response() *http.Response {
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", w.status, http.StatusText(w.status)),
		StatusCode:    w.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        w.sent,
		ContentLength: -1,
		Request:       w.req,
	}
}

// pipeBody owns the handler goroutine: Close stops and waits for it.
type pipeBody struct {
	pr     *io.PipeReader
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

func (b *pipeBody) Read(p []byte) (int, error) { return b.pr.Read(p) }

func (b *pipeBody) Close() error {
	b.once.Do(func() {
		b.pr.CloseWithError(errors.New("agentclient: response body closed"))
		b.cancel()
		<-b.done
	})
	return nil
}

// Connection pool of NewTransport.
const (
	// DefaultMaxIdleConnsPerHost is the number of idle connections kept
	// per agent: at least the parallel calls one contact agent serves in
	// a discovery (16 DC/rack lookups), so that none is closed and
	// handshaken again at the next one.
	DefaultMaxIdleConnsPerHost = 16
	// DefaultIdleConnTimeout is how long an idle agent connection is
	// kept: longer than the one-minute schedule of the health checks, so
	// that each round finds the connection of the last one.
	DefaultIdleConnTimeout = 3 * time.Minute
)

// NewTransport returns the TCP+TLS transport New uses when given none: a
// clone of http.DefaultTransport that skips certificate verification
// (agents use self-signed certificates; the bearer token authenticates)
// and keeps up to DefaultMaxIdleConnsPerHost idle connections per agent
// for DefaultIdleConnTimeout, with no cap on the idle connections in all.
// http.DefaultTransport's cap of 100 made every health-check round
// handshake again with all but 100 agents of a fleet. Share one transport
// between clients to share its connections.
func NewTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // agents use self-signed certs; auth is the bearer token
	t.MaxIdleConns = 0
	t.MaxIdleConnsPerHost = DefaultMaxIdleConnsPerHost
	t.IdleConnTimeout = DefaultIdleConnTimeout
	return t
}

// NewTLSTransport returns NewTransport verifying the agents as o says:
// the transport New makes when given none and Options.TLS. Share it
// between the clients of one cluster's agents (say, with and without
// retries) so that they share its kept connections.
func NewTLSTransport(o TLSOptions, log *slog.Logger) *http.Transport {
	t := NewTransport()
	applyTLS(t, o, log)
	return t
}
