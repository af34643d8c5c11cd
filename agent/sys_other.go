//go:build !linux

package agent

import (
	"errors"

	"github.com/scyllaops/scyllaops/internal/agentapi"
)

func diskUsage(string) (agentapi.FileSystemDetails, error) {
	return agentapi.FileSystemDetails{}, errors.New("agent: disk usage not supported on this OS")
}

func memTotal() int64 { return 0 }
