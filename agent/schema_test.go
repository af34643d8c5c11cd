package agent_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"gocloud.dev/blob"
	"gocloud.dev/blob/memblob"

	"github.com/scyllaops/scyllaops/agent"
	"github.com/scyllaops/scyllaops/agentclient"
	"github.com/scyllaops/scyllaops/internal/schemacheck"
)

// TestAnswerSchemas validates every kind of answer the agent gives against
// JSON schemas written from the agent's API description
// (testdata/schemas, additionalProperties false).
func TestAnswerSchemas(t *testing.T) {
	schemas, err := schemacheck.Load(os.DirFS("testdata"), "schemas")
	if err != nil {
		t.Fatal(err)
	}
	scylla := agentclient.NewInProcessTransport()
	scylla.Register("127.0.0.1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v2/config/listen_address", "/v2/config/rpc_address":
			_, _ = w.Write([]byte(`"10.0.0.7"`))
		case "/v2/config/native_transport_port", "/v2/config/alternator_port":
			_, _ = w.Write([]byte(`9042`))
		case "/v2/config/object_storage_endpoints":
			_, _ = w.Write([]byte(`[{"name":"s3.amazonaws.com","port":443,"use_https":true,"aws_region":"us-east-1"}]`))
		case "/storage_service/scylla_release_version":
			_, _ = w.Write([]byte(`"6.2.0"`))
		default:
			http.Error(w, `{"message":"unknown","code":400}`, http.StatusBadRequest)
		}
	}))
	dataDir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dataDir, "ks", "t-1"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dataDir, "ks", "t-1", "me-1-big-Data.db"), []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	bk := memblob.OpenBucket(nil)
	t.Cleanup(func() { _ = bk.Close() })
	a, err := agent.New(agent.Options{
		AuthToken: "tok", AuthPenalty: -1, ScyllaTransport: scylla, DataDir: dataDir, Version: "v1",
		OpenBucket: func(context.Context, string, string) (*blob.Bucket, error) { return bk, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	// Negative controls: the schemas do reject wrong shapes.
	for name, bad := range map[string]string{
		"job_progress": `{"status":"done","uploaded":0,"skipped":0,"failed":0}`,
		"list":         `{"list":[{"path":"a","Name":"a","Size":1,"IsDir":false}]}`,
		"node_info":    `{"listen_address":"x","bogus":1}`,
		"unauthorized": `{"message":"unauthorized","code":"401"}`,
	} {
		if err := schemas.Validate(name, []byte(bad)); err == nil {
			t.Fatalf("schema %s accepted %s", name, bad)
		}
	}
	const auth = "Bearer tok"
	check := func(name, method, target, authz, body string, code int) []byte {
		t.Helper()
		w := do(a, method, target, authz, body)
		if w.Code != code {
			t.Fatalf("%s %s = %d %s, want %d", method, target, w.Code, w.Body.String(), code)
		}
		if err := schemas.Validate(name, w.Body.Bytes()); err != nil {
			t.Errorf("%s %s: %v", method, target, err)
		}
		return w.Body.Bytes()
	}
	check("version", http.MethodGet, "/version", "", "", 200)
	check("unauthorized", http.MethodGet, "/agent/node_info", "Bearer x", "", 401)
	check("node_info", http.MethodGet, "/agent/node_info", auth, "", 200)
	check("cloud_metadata", http.MethodGet, "/agent/cloud/metadata", auth, "", 200)
	check("cpus", http.MethodGet, "/agent/pin_cpu", auth, "", 200)
	rc := func(name, call, body string, code int) []byte {
		t.Helper()
		return check(name, http.MethodPost, "/agent/rclone/"+call, auth, body, code)
	}
	rc("about", "operations/about", `{"fs":"data:"}`, 200)
	rc("bandwidth", "core/bwlimit", `{"rate":"1M"}`, 200)
	rc("transfers", "core/transfers", `{"transfers":3}`, 200)
	rc("empty_object", "operations/check-permissions", `{"fs":"s3:b","remote":"x"}`, 200)
	id := rc("jobid", "sync/copydir?_async=true", `{"srcFs":"data:","srcRemote":"ks","dstFs":"s3:b","dstRemote":"sst","transfers":-1}`, 200)
	var j struct {
		JobID int64 `json:"jobid"`
	}
	_ = json.Unmarshal(id, &j)
	jp := `{"jobid":` + strconv.FormatInt(j.JobID, 10) + `,"wait":10}`
	if p := rc("job_progress", "job/progress", jp, 200); !strings.Contains(string(p), `"status":"success"`) {
		t.Fatalf("job did not succeed: %s", p)
	}
	rc("job_info", "job/info", jp, 200)
	rc("job_progress", "job/progress", `{"jobid":1}`, 200) // not_found
	rc("list", "operations/list", `{"fs":"s3:b","remote":"","opt":{"recurse":true,"showHash":true}}`, 200)
	rc("list", "operations/list", `{"fs":"data:","remote":"ks"}`, 200)
	rc("file_info", "operations/fileinfo", `{"fs":"s3:b","remote":"sst/t-1/me-1-big-Data.db"}`, 200)
	rc("deletepaths", "operations/deletepaths", `{"fs":"s3:b","remote":"sst","paths":["t-1/me-1-big-Data.db"]}`, 200)
	for _, tc := range []struct {
		call, body string
		code       int
	}{
		{"operations/fileinfo", `{"fs":"s3:b","remote":"missing"}`, 404},
		{"operations/fileinfo", `{"fs":"data:../x"}`, 400},
		{"operations/fileinfo", `{`, 400},
		{"job/stop", `{"jobid":1}`, 404},
		{"nope/nope", `{}`, 404},
		{"core/bwlimit", `{"rate":"fast"}`, 400},
	} {
		rc("error_response", tc.call, tc.body, tc.code)
	}
}
