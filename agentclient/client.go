package agentclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// Defaults of Options.
const (
	DefaultPort         = 10001
	DefaultScheme       = "https"
	DefaultTimeout      = 30 * time.Second
	DefaultMaxTimeout   = time.Hour
	DefaultListTimeout  = 5 * time.Minute
	DefaultMinRetryWait = time.Second
	DefaultMaxRetryWait = 30 * time.Second
	DefaultRetryMax     = 9
)

// Options configure a Client. The zero value is valid.
type Options struct {
	// AuthToken is sent as "Authorization: Bearer <token>". Empty = none
	// (a warning is logged).
	AuthToken string
	// Port of the agent. Default: 10001.
	Port int
	// Scheme is "https" or "http". Default: "https".
	Scheme string
	// Timeout is the per-attempt timeout of ordinary calls. Default: 30s.
	Timeout time.Duration
	// MaxTimeout caps the per-attempt timeout as it doubles on retries of
	// timed-out attempts. Default: 1h.
	MaxTimeout time.Duration
	// RetryWaitMin and RetryWaitMax bound the exponential backoff between
	// attempts (multiplier 2, jitter 20%). Defaults: 1s and 30s.
	RetryWaitMin, RetryWaitMax time.Duration
	// RetryMax is the number of retries after the first attempt.
	// Default: 9; negative = no retries.
	RetryMax int
	// ListTimeout is the inactivity timeout of streamed listings, reset on
	// every received item. Default: 5m.
	ListTimeout time.Duration
	// Logger receives retry and warning logs. nil = discard.
	Logger *slog.Logger
	// TLS says how the default transport (New with a nil transport)
	// verifies agents. Default: trust on first use (see TLSOptions).
	TLS TLSOptions
}

// Validate reports the first invalid option.
func (o Options) Validate() error {
	switch {
	case o.Port < 0 || o.Port > 65535:
		return fmt.Errorf("agentclient: invalid Options.Port %d: want 1..65535 (0 = default %d)", o.Port, DefaultPort)
	case o.Scheme != "" && o.Scheme != "http" && o.Scheme != "https":
		return fmt.Errorf("agentclient: invalid Options.Scheme %q: want \"https\" or \"http\"", o.Scheme)
	case o.Timeout < 0, o.MaxTimeout < 0, o.ListTimeout < 0, o.RetryWaitMin < 0, o.RetryWaitMax < 0:
		return errors.New("agentclient: invalid Options: durations must be >= 0 (0 = default)")
	case o.RetryWaitMax != 0 && o.RetryWaitMin > o.RetryWaitMax:
		return fmt.Errorf("agentclient: invalid Options.RetryWaitMin %s: want <= RetryWaitMax %s", o.RetryWaitMin, o.RetryWaitMax)
	}
	return nil
}

func (o Options) withDefaults() Options {
	if o.Port == 0 {
		o.Port = DefaultPort
	}
	if o.Scheme == "" {
		o.Scheme = DefaultScheme
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxTimeout == 0 {
		o.MaxTimeout = DefaultMaxTimeout
	}
	if o.ListTimeout == 0 {
		o.ListTimeout = DefaultListTimeout
	}
	if o.RetryWaitMin == 0 {
		o.RetryWaitMin = DefaultMinRetryWait
	}
	if o.RetryWaitMax == 0 {
		o.RetryWaitMax = DefaultMaxRetryWait
	}
	if o.RetryMax == 0 {
		o.RetryMax = DefaultRetryMax
	}
	if o.RetryMax < 0 {
		o.RetryMax = 0
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Client calls agents. Create it with New.
type Client struct {
	opts  Options
	log   *slog.Logger
	retry *retryablehttp.Client
	plain *http.Client // no retries: streamed bodies
	// limits holds a *hostLimits per host (see agentWideLimits).
	limits sync.Map
}

// New returns a Client sending requests through transport. A nil transport
// means a new NewTransport() (an idle connection kept per agent) over
// TLS verified as Options.TLS says (default: each agent's public key
// pinned at first use; agents use self-signed certificates, as with
// Scylla Manager).
func New(transport http.RoundTripper, opts Options) (*Client, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	if transport == nil {
		transport = NewTLSTransport(opts.TLS, opts.Logger)
	}
	c := &Client{opts: opts, log: opts.Logger.With("component", "agentclient")}
	if opts.AuthToken == "" {
		c.log.Warn("no auth token configured for agent calls")
	}
	tt := &timeoutTransport{base: transport, max: opts.MaxTimeout}
	c.plain = &http.Client{Transport: tt}
	c.retry = &retryablehttp.Client{
		HTTPClient:   &http.Client{Transport: tt},
		RetryWaitMin: opts.RetryWaitMin,
		RetryWaitMax: opts.RetryWaitMax,
		RetryMax:     opts.RetryMax,
		CheckRetry:   checkRetry,
		Backoff:      backoff,
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
		RequestLogHook: func(_ retryablehttp.Logger, r *http.Request, attempt int) {
			if attempt > 0 {
				c.log.Debug("retrying agent call", "host", r.URL.Host, "path", r.URL.Path, "attempt", attempt)
			}
		},
	}
	return c, nil
}

// checkRetry retries transport errors, 5xx, 408 and 429, never a canceled
// or expired caller context.
// Answers whose body contains one of the call's final messages (e.g.
// "already exists" for a snapshot) are not retried either.
func checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err != nil {
		return !verificationFailed(err), nil
	}
	switch {
	case resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode == http.StatusTooManyRequests:
		return true, nil
	case resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented:
		if msgs, _ := ctx.Value(finalKey{}).([]string); len(msgs) > 0 {
			// Peek at the body and put it back for the caller.
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
			resp.Body = struct {
				io.Reader
				io.Closer
			}{io.MultiReader(bytes.NewReader(b), resp.Body), resp.Body}
			lb := strings.ToLower(string(b))
			for _, m := range msgs {
				if strings.Contains(lb, strings.ToLower(m)) {
					return false, nil
				}
			}
		}
		return true, nil
	}
	return false, nil
}

// finalKey carries a call's final (not retried) error messages.
type finalKey struct{}

// backoff is exponential (×2) between min and max with ±20% jitter.
func backoff(minWait, maxWait time.Duration, attempt int, _ *http.Response) time.Duration {
	d := float64(minWait) * math.Pow(2, float64(attempt))
	if d > float64(maxWait) {
		d = float64(maxWait)
	}
	d *= 0.8 + 0.4*rand.Float64() //nolint:gosec // jitter
	return time.Duration(d)
}

// call describes one request.
type call struct {
	op      string // operation name for errors
	method  string
	path    string // already escaped
	query   url.Values
	body    any // JSON-encoded unless io.Reader
	timeout time.Duration
	// noTimeout disables the per-attempt timeout (the caller's ctx rules).
	noTimeout bool
	// noRetry sends once.
	noRetry bool
	// final lists error messages (case-insensitive substrings of a 5xx
	// body) that are not retried.
	final []string
}

func (c *Client) url(host, path string, q url.Values) string {
	u := url.URL{Scheme: c.opts.Scheme, Host: net.JoinHostPort(host, strconv.Itoa(c.opts.Port)), Path: path}
	if strings.ContainsAny(path, "%") {
		u.RawPath = path
		if p, err := url.PathUnescape(path); err == nil {
			u.Path = p
		}
	}
	if len(q) > 0 {
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// do sends the call to host and returns the response when its status is
// 2xx; otherwise a *HostError. The caller closes the body.
func (c *Client) do(ctx context.Context, host string, cl call) (*http.Response, error) {
	if host == "" {
		return nil, &HostError{Host: host, Op: cl.op, Err: errors.New("empty host")}
	}
	timeout := cl.timeout
	if timeout == 0 {
		timeout = c.opts.Timeout
	}
	if cl.noTimeout {
		timeout = 0
	}
	ctx = context.WithValue(ctx, timeoutKey{}, timeout)
	ctx = context.WithValue(ctx, attemptKey{}, new(int))
	if len(cl.final) > 0 {
		ctx = context.WithValue(ctx, finalKey{}, cl.final)
	}
	u := c.url(host, cl.path, cl.query)

	var (
		resp *http.Response
		err  error
	)
	if r, ok := cl.body.(io.Reader); ok && (cl.noRetry || c.opts.RetryMax == 0) {
		var req *http.Request
		req, err = http.NewRequestWithContext(ctx, cl.method, u, r)
		if err != nil {
			return nil, &HostError{Host: host, Op: cl.op, Err: err}
		}
		c.setHeaders(req.Header, true)
		resp, err = c.plain.Do(req)
	} else {
		var raw any
		isReader := false
		switch b := cl.body.(type) {
		case nil:
		case io.ReadSeeker:
			start, serr := b.Seek(0, io.SeekCurrent)
			if serr != nil {
				return nil, &HostError{Host: host, Op: cl.op, Err: serr}
			}
			raw = retryablehttp.ReaderFunc(func() (io.Reader, error) {
				_, err := b.Seek(start, io.SeekStart)
				return b, err
			})
			isReader = true
		case io.Reader:
			raw = b // retryablehttp buffers it; only small bodies get here.
			isReader = true
		default:
			buf, merr := json.Marshal(b)
			if merr != nil {
				return nil, &HostError{Host: host, Op: cl.op, Err: merr}
			}
			raw = buf
		}
		var req *retryablehttp.Request
		req, err = retryablehttp.NewRequestWithContext(ctx, cl.method, u, raw)
		if err != nil {
			return nil, &HostError{Host: host, Op: cl.op, Err: err}
		}
		c.setHeaders(req.Header, isReader)
		if cl.body == nil {
			req.Header.Del("Content-Type")
		}
		if cl.noRetry {
			resp, err = c.plain.Do(req.Request)
		} else {
			resp, err = c.retry.Do(req)
		}
	}
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
			return nil, &HostError{Host: host, Op: cl.op, Err: err}
		}
		return nil, &HostError{Host: host, Op: cl.op, Err: fmt.Errorf("%w: %w", ErrUnreachable, err)}
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	return nil, &HostError{Host: host, Op: cl.op, Err: statusError(resp)}
}

func (c *Client) setHeaders(h http.Header, octet bool) {
	if c.opts.AuthToken != "" {
		h.Set("Authorization", "Bearer "+c.opts.AuthToken)
	}
	if octet {
		h.Set("Content-Type", "application/octet-stream")
	} else {
		h.Set("Content-Type", "application/json")
	}
	h.Set("Accept", "application/json")
}

// statusError reads a failed response's body into a *StatusError.
func statusError(resp *http.Response) *StatusError {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	se := &StatusError{Code: resp.StatusCode, Body: string(bytes.TrimSpace(b))}
	var m struct {
		Message string `json:"message"`
		Error   string `json:"error"` // rclone's rc errors
	}
	switch {
	case json.Unmarshal(b, &m) != nil:
		se.Message = se.Body
	case m.Message != "":
		se.Message = m.Message
	case m.Error != "":
		se.Message = m.Error
	default:
		se.Message = se.Body
	}
	return se
}

// getJSON performs the call and decodes a JSON answer into out (nil to
// discard).
func (c *Client) getJSON(ctx context.Context, host string, cl call, out any) error {
	resp, err := c.do(ctx, host, cl)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return &HostError{Host: host, Op: cl.op, Err: fmt.Errorf("decode answer: %w", err)}
	}
	// Read to the end (a newline, a chunked body's last chunk): net/http
	// reuses a connection only when its body was read to EOF, and closes
	// it otherwise, so that every call would open (and TLS-handshake) a
	// new one.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
	return nil
}

// maxDrain bounds what getJSON reads past the JSON value to keep the
// connection.
const maxDrain = 64 << 10

type timeoutKey struct{}

// timeoutTransport applies the per-attempt timeout carried in the request
// context, doubling it on each retry of a timed-out attempt (capped by
// max). The timeout covers reading the body: it is released on Close.
type timeoutTransport struct {
	base http.RoundTripper
	max  time.Duration
}

type attemptKey struct{}

func (t *timeoutTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	d, _ := req.Context().Value(timeoutKey{}).(time.Duration)
	if d <= 0 {
		return t.base.RoundTrip(req)
	}
	n, _ := req.Context().Value(attemptKey{}).(*int)
	if n != nil && *n > 0 {
		d = min(d<<min(*n, 20), max(t.max, d))
	}
	ctx, cancel := context.WithTimeout(req.Context(), d)
	resp, err := t.base.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel()
		if n != nil && errors.Is(err, context.DeadlineExceeded) {
			*n++
		}
		return nil, err
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}
