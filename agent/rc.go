package agent

import (
	"net/http"

	"github.com/scyllaops/scyllaops/internal/agentapi"
)

type rcServer struct{ a *Agent }

func newRCServer(a *Agent) (*rcServer, error) { return &rcServer{a: a}, nil }

func (s *rcServer) close() {}

func knownCall(string) bool { return false }

func (s *rcServer) serve(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusNotImplemented, agentapi.ErrorResponse{Status: 501, Message: "not implemented yet", Path: r.URL.Path})
}
