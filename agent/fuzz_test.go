package agent

import (
	"bytes"
	"errors"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzRCRequest feeds arbitrary query strings, content types and bodies to
// the rc request decoder and the typed parameter getters: no panic, and
// every error is a 400 or 413 *rcError.
func FuzzRCRequest(f *testing.F) {
	f.Add("_async=true", "application/json", []byte(`{"fs":"s3:b","remote":"x","transfers":2,"paths":["a","b"],"opt":{"recurse":true}}`))
	f.Add("fs=data:&remote=a", "application/octet-stream", []byte(``))
	f.Add("", "application/x-www-form-urlencoded", []byte(`fs=s3%3Ab&transfers=3&_async=true`))
	f.Add("jobid=12&wait=10", "", []byte(`{"jobid":1e3,"wait":"5"}`))
	f.Add("", "application/json", []byte(`{"fs":`))
	f.Add("", "application/json", []byte(`null`))
	f.Add("%zz", "text/plain; charset=\x00", []byte(`{"a":1} {"b":2}`))
	f.Fuzz(func(t *testing.T, query, contentType string, body []byte) {
		q, _ := url.ParseQuery(query)
		p, err := decodeParams(q, contentType, bytes.NewReader(body))
		if err != nil {
			var re *rcError
			if !errors.As(err, &re) || (re.status != http.StatusBadRequest && re.status != http.StatusRequestEntityTooLarge) {
				t.Fatalf("error %v is not a 400/413 rcError", err)
			}
			return
		}
		for k := range p {
			_, _ = p.str(k)
			_, _ = p.int(k, 0)
			_, _ = p.bool(k)
			_, _ = p.strs(k)
			if o, err := p.obj(k); err == nil {
				_, _ = o.bool("recurse")
			}
		}
		for _, k := range []string{"fs", "srcFs", "dstFs"} {
			if fs, err := p.str(k); err == nil && fs != "" {
				r, _ := p.str("remote")
				_, _ = parseLocation(fs, r)
			}
		}
		if r, err := p.str("bandwidth_rate"); err == nil {
			_, _ = parseRate(r)
		}
	})
}

// FuzzRemotePath checks that no accepted remote escapes its root.
func FuzzRemotePath(f *testing.F) {
	for _, s := range [][2]string{
		{"data:", "ks/t-1/snapshots/x"}, {"data:../../etc", "passwd"}, {"data:", "/etc/passwd"},
		{"s3:bucket/prefix", "a/../../b"}, {"s3:", "x"}, {"gcs:b", "./a//b/"}, {"azure:c", "a\x00b"},
		{"localstorage:..", "x"}, {"data:a/./b", "..."}, {"ftp:x", "y"}, {"data:", `a\..\b`},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, fs, remote string) {
		loc, err := parseLocation(fs, remote)
		if err != nil {
			var re *rcError
			if !errors.As(err, &re) || re.status != http.StatusBadRequest {
				t.Fatalf("error %v is not a 400 rcError", err)
			}
			return
		}
		if strings.ContainsRune(loc.key, 0) || strings.ContainsRune(loc.key, '\\') || strings.HasPrefix(loc.key, "/") || strings.HasSuffix(loc.key, "/") {
			t.Fatalf("unclean key %q from (%q, %q)", loc.key, fs, remote)
		}
		for seg := range strings.SplitSeq(loc.key, "/") {
			if seg == ".." || seg == "." || (seg == "" && loc.key != "") {
				t.Fatalf("bad segment in key %q from (%q, %q)", loc.key, fs, remote)
			}
		}
		const root = "/var/lib/scylla/data"
		joined := filepath.Join(root, filepath.FromSlash(loc.key))
		if joined != root && !strings.HasPrefix(joined, root+"/") {
			t.Fatalf("key %q escapes root: %s", loc.key, joined)
		}
		if loc.provider != ProviderData {
			if err := validBucket(loc.bucket); err != nil {
				t.Fatalf("accepted invalid bucket %q: %v", loc.bucket, err)
			}
		}
		// Joining more never escapes either.
		if l2, err := loc.join(remote); err == nil && strings.Contains("/"+l2.key+"/", "/../") {
			t.Fatalf("join escaped: %q", l2.key)
		}
	})
}
