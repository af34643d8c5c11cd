package agent_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scyllaops/scyllaops/agent"
)

// FuzzRCPathsWithSymlinks sends rc calls with fuzzed paths to an agent
// whose data dir and localstorage root hold symlinks (some created by the
// fuzzer itself at fuzzed names) leading outside them: no call panics,
// no answer carries the outside secret, and the outside directory is never
// written or deleted.
func FuzzRCPathsWithSymlinks(f *testing.F) {
	outside := f.TempDir()
	const secretContent = "fuzz-outside-secret"
	data, ls := f.TempDir(), f.TempDir()
	write := func(p, c string) {
		_ = os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			f.Fatal(err)
		}
	}
	write(filepath.Join(outside, "secret"), secretContent)
	write(filepath.Join(outside, "backup", "meta", "m.crc32"), secretContent)
	roots := []string{data, filepath.Join(ls, "b")}
	link := func(target, p string) {
		_ = os.MkdirAll(filepath.Dir(p), 0o755)
		_ = os.Symlink(target, p)
	}
	fixed := func() {
		for _, r := range roots {
			link(outside, filepath.Join(r, "ks1", "escape"))
			link(outside, filepath.Join(r, "ks2", "backup", "meta"))
			link(filepath.Join(outside, "secret"), filepath.Join(r, "ks1", "t", "filelink"))
			link("../../../..", filepath.Join(r, "ks3", "a", "b", "up"))
			_ = os.MkdirAll(filepath.Join(r, "ks1", "t"), 0o755)
			if _, err := os.Stat(filepath.Join(r, "ks1", "t", "own")); err != nil {
				write(filepath.Join(r, "ks1", "t", "own"), "own")
			}
		}
	}
	fixed()
	a, err := agent.New(agent.Options{DataDir: data, Storage: agent.StorageOptions{LocalStoragePath: ls}, Registerer: prometheus.NewRegistry()})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = a.Close() })

	calls := []string{"operations/cat", "operations/list", "operations/fileinfo", "operations/copyfile", "operations/movefile",
		"operations/deletefile", "operations/deletepaths", "operations/purge", "sync/copydir", "sync/copypaths", "operations/check-permissions"}
	fss := []string{"data:", "localstorage:b", "data:ks1", "localstorage:b/ks1"}
	f.Add(uint8(0), uint8(0), uint8(1), "ks2/backup/meta/secret", "x", "", "")
	f.Add(uint8(1), uint8(0), uint8(1), "ks1/escape", "", "", "")
	f.Add(uint8(3), uint8(0), uint8(1), "ks1/t/filelink", "up/x", "", "")
	f.Add(uint8(3), uint8(1), uint8(0), "ks1/t/own", "ks1/escape/new", "", "")
	f.Add(uint8(5), uint8(2), uint8(0), "escape/secret", "", "", "")
	f.Add(uint8(6), uint8(0), uint8(0), "ks1/escape", "", "secret", "")
	f.Add(uint8(7), uint8(3), uint8(0), "escape", "", "", "")
	f.Add(uint8(8), uint8(0), uint8(1), "ks1", "up", "", "")
	f.Add(uint8(9), uint8(1), uint8(0), "ks1/t", "ks1/escape", "own", "")
	f.Add(uint8(2), uint8(0), uint8(0), "ks9/l/secret", "", "", "ks9/l")
	f.Add(uint8(0), uint8(1), uint8(0), "ks3/a/b/up/secret", "", "", "")
	f.Fuzz(func(t *testing.T, call, srcFs, dstFs uint8, src, dst, p, linkAt string) {
		fixed()
		// A symlink to the outside at a fuzzed place inside a root.
		if k := strings.Trim(linkAt, "/"); k != "" && !strings.Contains(k, "..") && !strings.ContainsAny(k, "\x00\\") && len(k) < 64 {
			link(outside, filepath.Join(roots[int(srcFs)%2], filepath.FromSlash(k)))
		}
		name := calls[int(call)%len(calls)]
		body := map[string]any{
			"fs": fss[int(srcFs)%len(fss)], "remote": src,
			"srcFs": fss[int(srcFs)%len(fss)], "srcRemote": src,
			"dstFs": fss[int(dstFs)%len(fss)], "dstRemote": dst,
			"paths": []string{p}, "opt": map[string]any{"recurse": true},
		}
		b, _ := json.Marshal(body)
		w := do(a, http.MethodPost, "/agent/rclone/"+name, "", string(b))
		if strings.Contains(w.Body.String(), secretContent) {
			t.Fatalf("%s %s: answer carries the outside secret: %s", name, b, w.Body.String())
		}
		got, err := os.ReadFile(filepath.Join(outside, "secret"))
		if err != nil || string(got) != secretContent {
			t.Fatalf("%s %s: outside secret changed: %q, %v", name, b, got, err)
		}
		if _, err := os.Stat(filepath.Join(outside, "backup", "meta", "m.crc32")); err != nil {
			t.Fatalf("%s %s: outside file deleted: %v", name, b, err)
		}
		if ents, _ := os.ReadDir(outside); len(ents) != 2 {
			t.Fatalf("%s %s: outside directory gained or lost entries: %v", name, b, ents)
		}
	})
}
