package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// request is one request a recorder received.
type request struct {
	Method, Path, Query, Body string
}

// recorder is a fake API server that keeps the requests it receives and
// answers each with respond (nil: 200 with no body).
type recorder struct {
	mu   sync.Mutex
	reqs []request
}

// newRecorder starts a recorder and returns a fixture whose sctool talks
// to it.
func newRecorder(t *testing.T, respond func(w http.ResponseWriter, r *http.Request)) (*fixture, *recorder) {
	t.Helper()
	rec := &recorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Body: strings.TrimSpace(string(b))})
		rec.mu.Unlock()
		if respond != nil {
			respond(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return &fixture{t: t, url: srv.URL + "/api/v1"}, rec
}

// take returns the requests received since the last take.
func (rec *recorder) take() []request {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	out := rec.reqs
	rec.reqs = nil
	return out
}
