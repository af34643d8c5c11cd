package agent_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scyllaops/scyllaops/agent"
)

// symlinkEnv is an agent whose data dir and localstorage bucket "b" hold
// symlinks that lead outside them, to a directory with a secret.
type symlinkEnv struct {
	a       *agent.Agent
	outside string // the directory the escapes point to
}

const secret = "outside-secret-content"

func mustWrite(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustSymlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func newSymlinkEnv(t *testing.T) *symlinkEnv {
	t.Helper()
	outside := t.TempDir()
	mustWrite(t, filepath.Join(outside, "secret"), secret)
	mustWrite(t, filepath.Join(outside, "sub", "secret.crc32"), secret)
	data, ls := t.TempDir(), t.TempDir()
	for _, root := range []string{data, filepath.Join(ls, "b")} {
		mustSymlink(t, outside, filepath.Join(root, "ks1", "escape"))                                 // a directory
		mustSymlink(t, outside, filepath.Join(root, "ks2", "backup", "meta"))                         // cat's allowed prefix
		mustSymlink(t, filepath.Join(outside, "secret"), filepath.Join(root, "ks1", "t", "filelink")) // a file
		mustWrite(t, filepath.Join(root, "ks1", "t", "own"), "own")
		// Inside the root: keeps working.
		mustWrite(t, filepath.Join(root, "ks6", "real"), "inside")
		mustSymlink(t, filepath.Join("..", "..", "..", "ks6", "real"), filepath.Join(root, "ks5", "backup", "meta", "ok"))
	}
	a, _ := newAgent(t, agent.Options{DataDir: data, Storage: agent.StorageOptions{LocalStoragePath: ls}})
	return &symlinkEnv{a: a, outside: outside}
}

func (e *symlinkEnv) call(t *testing.T, name, body string) (int, string) {
	t.Helper()
	w := do(e.a, http.MethodPost, "/agent/rclone/"+name, "", body)
	return w.Code, w.Body.String()
}

// unchanged fails the test when the outside directory lost its secret
// or gained files.
func (e *symlinkEnv) unchanged(t *testing.T, what string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.outside, "secret"))
	if err != nil || string(b) != secret {
		t.Errorf("%s: outside secret = %q, %v; want it untouched", what, b, err)
	}
	ents, _ := os.ReadDir(e.outside)
	if len(ents) != 2 {
		var names []string
		for _, d := range ents {
			names = append(names, d.Name())
		}
		t.Errorf("%s: outside directory holds %v, want only secret and sub", what, names)
	}
}

// TestSymlinkEscapes: no rc call reads, writes or deletes outside the data
// directory or a localstorage root through a symlink, on data: and on
// localstorage:.
func TestSymlinkEscapes(t *testing.T) {
	for _, fs := range []string{"data:", "localstorage:b"} {
		other := "localstorage:b"
		if fs != "data:" {
			other = "data:"
		}
		t.Run(strings.TrimSuffix(fs, ":"), func(t *testing.T) {
			e := newSymlinkEnv(t)
			noSecret := func(what string, code int, body string) {
				t.Helper()
				if strings.Contains(body, secret) || (code == http.StatusOK && strings.Contains(body, `"secret`)) {
					t.Errorf("%s: %d %s: reached the outside directory", what, code, body)
				}
			}
			// Reading.
			for _, r := range []string{"ks2/backup/meta/secret", "ks1/escape/sub/secret.crc32"} {
				code, body := e.call(t, "operations/cat", fmt.Sprintf(`{"fs":%q,"remote":%q}`, fs, r))
				noSecret("cat "+r, code, body)
				if code == http.StatusOK {
					t.Errorf("cat %s through a symlink escape = 200", r)
				}
			}
			for _, r := range []string{"ks1/escape", "ks2/backup/meta", "ks1"} {
				code, body := e.call(t, "operations/list", fmt.Sprintf(`{"fs":%q,"remote":%q,"opt":{"recurse":true}}`, fs, r))
				noSecret("list "+r, code, body)
				if strings.Contains(body, "filelink") {
					t.Errorf("list %s shows a symlink leading outside: %s", r, body)
				}
			}
			code, body := e.call(t, "operations/fileinfo", fmt.Sprintf(`{"fs":%q,"remote":"ks1/t/filelink"}`, fs))
			if code == http.StatusOK {
				t.Errorf("fileinfo through a file symlink escape = 200 %s", body)
			}
			for _, src := range []string{"ks1/escape/secret", "ks1/t/filelink"} {
				code, body = e.call(t, "operations/copyfile", fmt.Sprintf(`{"srcFs":%q,"srcRemote":%q,"dstFs":%q,"dstRemote":"copied/x"}`, fs, src, other))
				if code == http.StatusOK {
					t.Errorf("copyfile from %s = 200 %s", src, body)
				}
			}
			if fs == "data:" {
				code, _ = e.call(t, "sync/copydir", `{"srcFs":"data:","srcRemote":"ks1","dstFs":"localstorage:b","dstRemote":"up"}`)
				if code == http.StatusOK {
					// The inside file is uploaded, nothing from outside.
					c2, listing := e.call(t, "operations/list", `{"fs":"localstorage:b","remote":"up","opt":{"recurse":true}}`)
					noSecret("copydir result", c2, listing)
					if strings.Contains(listing, "filelink") || !strings.Contains(listing, "own") {
						t.Errorf("copydir uploaded %s", listing)
					}
				}
				code, body = e.call(t, "sync/copydir", `{"srcFs":"data:","srcRemote":"ks1/escape","dstFs":"localstorage:b","dstRemote":"up2"}`)
				c2, listing := e.call(t, "operations/list", `{"fs":"localstorage:b","remote":"up2","opt":{"recurse":true}}`)
				noSecret("copydir of an escape", c2, listing)
				_ = code
				_ = body
			}
			// Writing.
			code, body = e.call(t, "operations/copyfile", fmt.Sprintf(`{"srcFs":%q,"srcRemote":"ks1/t/own","dstFs":%q,"dstRemote":"ks1/escape/new"}`, fs, fs))
			if code == http.StatusOK {
				t.Errorf("copyfile into an escape = 200 %s", body)
			}
			code, body = e.call(t, "operations/copyfile", fmt.Sprintf(`{"srcFs":%q,"srcRemote":"ks1/t/own","dstFs":%q,"dstRemote":"ks1/escape/new2"}`, other, fs))
			if code == http.StatusOK {
				t.Errorf("copyfile from %s into an escape = 200 %s", other, body)
			}
			code, body = e.call(t, "sync/copypaths", fmt.Sprintf(`{"srcFs":%q,"srcRemote":"ks1/t","dstFs":"data:","dstRemote":"ks1/escape","paths":["own"]}`, other))
			if fs == "data:" && code == http.StatusOK {
				t.Errorf("copypaths into an escape = 200 %s", body)
			}
			e.unchanged(t, "after writes")
			// Deleting.
			for _, call := range []string{
				fmt.Sprintf(`operations/deletefile {"fs":%q,"remote":"ks1/escape/secret"}`, fs),
				fmt.Sprintf(`operations/deletepaths {"fs":%q,"remote":"ks1/escape","paths":["secret","sub/secret.crc32"]}`, fs),
				fmt.Sprintf(`operations/purge {"fs":%q,"remote":"ks1/escape"}`, fs),
				fmt.Sprintf(`operations/movefile {"srcFs":%q,"srcRemote":"ks1/escape/secret","dstFs":%q,"dstRemote":"ks1/escape/secret2"}`, fs, fs),
			} {
				name, body, _ := strings.Cut(call, " ")
				code, out := e.call(t, name, body)
				noSecret(name, code, out)
				e.unchanged(t, name)
			}
			if _, err := os.Stat(filepath.Join(e.outside, "sub", "secret.crc32")); err != nil {
				t.Errorf("outside sub/secret.crc32 deleted: %v", err)
			}
			// A symlink inside the root keeps working.
			if code, body := e.call(t, "operations/cat", fmt.Sprintf(`{"fs":%q,"remote":"ks5/backup/meta/ok"}`, fs)); code != http.StatusOK || body != "inside" {
				t.Errorf("cat through an inside symlink = %d %q, want 200 inside", code, body)
			}
		})
	}
}
