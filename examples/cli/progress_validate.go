package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/scyllaops/scyllaops/restapi"
)

func validateBackupView() progressView {
	return progressView{text: validateProgressText}
}

func validateProgressText(raw json.RawMessage, _ progressOpts) (string, error) {
	var ps []restapi.ValidateBackupProgress
	if len(raw) > 0 && string(raw) != "{}" {
		if err := json.Unmarshal(raw, &ps); err != nil {
			return "", fmt.Errorf("validate_backup progress: %w", err)
		}
	}
	if len(ps) == 0 {
		return "", nil
	}
	slices.SortFunc(ps, func(x, y restapi.ValidateBackupProgress) int {
		if c := compareHosts(x.Host, y.Host); c != 0 {
			return c
		}
		return strings.Compare(x.Location, y.Location)
	})
	t := newTable("Host", "Location", "Manifests", "Scanned files", "Missing files", "Orphaned files", "Orphaned bytes", "Deleted files", "Broken snapshots")
	for _, p := range ps {
		t.add(p.Host, p.Location, p.Manifests, p.ScannedFiles, p.MissingFiles, p.OrphanedFiles, sizeString(p.OrphanedBytes), p.DeletedFiles, strings.Join(p.BrokenSnapshots, ","))
	}
	return "\n" + t.String(), nil
}
