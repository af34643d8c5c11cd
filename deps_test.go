package scyllaops_test

import (
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestLibraryImportGraph fails if the library's own import graph pulls in a
// store driver, the simulator or package testing: embedders get neither
// unless they import them.
func TestLibraryImportGraph(t *testing.T) {
	out, err := exec.CommandContext(t.Context(), "go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	forbidden := []string{
		"github.com/scyllaops/scyllaops/store/memstore",
		"github.com/scyllaops/scyllaops/store/boltstore",
		"github.com/scyllaops/scyllaops/store/cqlstore",
		"github.com/scyllaops/scyllaops/scyllatest",
		"go.etcd.io/bbolt",
		"github.com/gocql/gocql",
		"testing",
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list -deps returned only %d packages: %q", len(deps), deps)
	}
	for _, d := range deps {
		for _, f := range forbidden {
			if d == f || strings.HasPrefix(d, f+"/") {
				t.Errorf("library import graph contains %s", d)
			}
		}
	}
}

// servicePackages are the service packages of DESIGN.md §2, by name:
// those that do not exist yet are checked once they do.
var servicePackages = []string{"backup", "healthcheck", "repair", "restore"}

// serviceImportViolations returns, for each service package (or
// subpackage) in deps (import path → its transitive imports), the
// imports DESIGN.md §2 forbids it: another service package, the
// scheduler, the root package, a store driver or the simulator.
func serviceImportViolations(module string, deps map[string][]string) []string {
	under := func(pkg, dir string) bool {
		p := module + "/" + dir
		return pkg == p || strings.HasPrefix(pkg, p+"/")
	}
	var out []string
	for pkg, ds := range deps {
		own := ""
		for _, s := range servicePackages {
			if under(pkg, s) {
				own = s
			}
		}
		if own == "" {
			continue
		}
		for _, d := range ds {
			bad := d == module || under(d, "scheduler") || under(d, "scyllatest") ||
				under(d, "store/memstore") || under(d, "store/boltstore") || under(d, "store/cqlstore")
			for _, s := range servicePackages {
				bad = bad || (s != own && under(d, s))
			}
			if bad {
				out = append(out, pkg+" imports "+d)
			}
		}
	}
	slices.Sort(out)
	return out
}

// TestServiceImportRules fails when a service package (backup,
// healthcheck, repair, restore) imports, directly or not, another service
// package, the scheduler, the root package, a store driver or scyllatest
// (go list -deps of the non-test build).
func TestServiceImportRules(t *testing.T) {
	const module = "github.com/scyllaops/scyllaops"
	out, err := exec.CommandContext(t.Context(), "go", "list", "-e", "-f", `{{.ImportPath}} {{join .Deps " "}}`, "./...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := map[string][]string{}
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) > 0 {
			deps[f[0]] = f[1:]
		}
	}
	for _, s := range []string{"backup", "healthcheck"} {
		if _, ok := deps[module+"/"+s]; !ok {
			t.Fatalf("go list did not list %s/%s: %q", module, s, out)
		}
	}
	for _, v := range serviceImportViolations(module, deps) {
		t.Error(v)
	}
}

// TestServiceImportViolations: the rule catches each forbidden kind of
// import and lets the allowed ones through.
func TestServiceImportViolations(t *testing.T) {
	const m = "example.com/mod"
	got := serviceImportViolations(m, map[string][]string{
		m + "/backup":             {m + "/store", m + "/agentclient", m + "/topology", m + "/internal/backupspec", "context"},
		m + "/repair":             {m + "/scheduler"},
		m + "/restore/internal/x": {m + "/backup"},
		m + "/healthcheck":        {m},
		m + "/backup/sub":         {m + "/store/boltstore", m + "/scyllatest"},
		m + "/restapi":            {m + "/backup", m + "/scheduler"},
	})
	want := []string{
		m + "/backup/sub imports " + m + "/scyllatest",
		m + "/backup/sub imports " + m + "/store/boltstore",
		m + "/healthcheck imports " + m,
		m + "/repair imports " + m + "/scheduler",
		m + "/restore/internal/x imports " + m + "/backup",
	}
	if !slices.Equal(got, want) {
		t.Errorf("violations:\n got %q\nwant %q", got, want)
	}
}

// discoveryMethods are the agentclient.Client calls that ask a cluster
// what it looks like (node listing, placement, tokens, describe_ring):
// only package topology makes them (issue 15's one cluster model).
var discoveryMethods = []string{
	"HostIDMap", "LiveNodes", "JoiningNodes", "LeavingNodes", "Datacenter", "Rack", "Tokens", "DescribeRing",
}

// discoveryPaths are the REST paths behind discoveryMethods: a string
// literal holding one (a Raw call) is a discovery too.
var discoveryPaths = []string{
	"/storage_service/host_id", "/storage_service/describe_ring", "/gossiper/endpoint/live",
	"/storage_service/nodes/", "/storage_service/tokens", "/snitch/",
}

// discoveryExempt: the packages that may discover (topology), that
// implement the calls (agentclient) or serve them (agent, scyllatest).
var discoveryExempt = []string{"topology", "agentclient", "agent", "scyllatest"}

// discoveryUses returns the positions in files (type-checked into info)
// that use a discovery method of clientPkg's Client, or hold a discovery
// REST path in a string literal.
func discoveryUses(fset *token.FileSet, files []*ast.File, info *types.Info, clientPkg string) []string {
	var out []string
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.SelectorExpr:
				sel := info.Selections[n]
				if sel == nil {
					return true
				}
				fn, ok := sel.Obj().(*types.Func)
				if !ok || !slices.Contains(discoveryMethods, fn.Name()) {
					return true
				}
				recv := fn.Signature().Recv()
				if recv == nil {
					return true
				}
				rt := recv.Type()
				if p, ok := rt.(*types.Pointer); ok {
					rt = p.Elem()
				}
				if nt, ok := rt.(*types.Named); ok && nt.Obj().Pkg() != nil &&
					nt.Obj().Pkg().Path() == clientPkg && nt.Obj().Name() == "Client" {
					out = append(out, fmt.Sprintf("%s: Client.%s", fset.Position(n.Sel.Pos()), fn.Name()))
				}
			case *ast.BasicLit:
				if n.Kind != token.STRING {
					return true
				}
				v, err := strconv.Unquote(n.Value)
				if err != nil {
					return true
				}
				for _, p := range discoveryPaths {
					if strings.Contains(v, p) {
						out = append(out, fmt.Sprintf("%s: path %q", fset.Position(n.Pos()), v))
					}
				}
			}
			return true
		})
	}
	return out
}

// exportImporter type-checks against the compiler's export data that go
// list -export wrote (path → file).
func exportImporter(fset *token.FileSet, exports map[string]string) types.Importer {
	return importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		f, ok := exports[path]
		if !ok || f == "" {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(f)
	})
}

func typeCheck(fset *token.FileSet, imp types.Importer, path string, files []*ast.File) (*types.Info, error) {
	info := &types.Info{Selections: map[*ast.SelectorExpr]*types.Selection{}}
	_, err := (&types.Config{Importer: imp}).Check(path, fset, files, info)
	return info, err
}

// TestDiscoveryOnlyInTopology fails when a package other than topology,
// agentclient, agent and scyllatest (tests excluded) calls the agent's
// node-listing, placement, token or describe_ring endpoints: services
// take nodes and rings from package topology. The calls are found by
// type (a method of *agentclient.Client), so a method of the same name
// on another type does not count.
func TestDiscoveryOnlyInTopology(t *testing.T) {
	const module = "github.com/scyllaops/scyllaops"
	out, err := exec.CommandContext(t.Context(), "go", "list", "-e", "-export", "-deps",
		"-f", "{{.ImportPath}}\t{{.Export}}\t{{.Dir}}\t{{join .GoFiles \",\"}}", "./...").Output()
	if err != nil {
		t.Fatalf("go list -export: %v", err)
	}
	type pkg struct{ dir, files string }
	exports, own := map[string]string{}, map[string]pkg{}
	for line := range strings.Lines(string(out)) {
		f := strings.Split(strings.TrimRight(line, "\n"), "\t")
		if len(f) != 4 {
			continue
		}
		exports[f[0]] = f[1]
		if f[0] == module || strings.HasPrefix(f[0], module+"/") {
			own[f[0]] = pkg{f[2], f[3]}
		}
	}
	checked := 0
	for path, p := range own {
		rel := strings.TrimPrefix(strings.TrimPrefix(path, module), "/")
		if slices.ContainsFunc(discoveryExempt, func(e string) bool { return rel == e || strings.HasPrefix(rel, e+"/") }) {
			continue
		}
		fset := token.NewFileSet()
		var files []*ast.File
		for name := range strings.SplitSeq(p.files, ",") {
			if name == "" {
				continue
			}
			af, err := parser.ParseFile(fset, filepath.Join(p.dir, name), nil, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, af)
		}
		info, err := typeCheck(fset, exportImporter(fset, exports), path, files)
		if err != nil {
			t.Fatalf("type-check %s: %v", path, err)
		}
		for _, u := range discoveryUses(fset, files, info, module+"/agentclient") {
			t.Errorf("%s discovers the cluster itself (use package topology): %s", path, u)
		}
		checked++
	}
	if checked < 10 {
		t.Fatalf("checked only %d packages of %s", checked, module)
	}
}

// TestDiscoveryUses: the check finds calls and method values of the
// discovery methods and discovery paths, and not a method of the same
// name on another type.
func TestDiscoveryUses(t *testing.T) {
	const module = "github.com/scyllaops/scyllaops"
	out, err := exec.CommandContext(t.Context(), "go", "list", "-export", "-f", "{{.ImportPath}}\t{{.Export}}", module+"/agentclient", "context").Output()
	if err != nil {
		t.Fatalf("go list -export: %v", err)
	}
	exports := map[string]string{}
	for line := range strings.Lines(string(out)) {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "\t"); ok {
			exports[k] = v
		}
	}
	const src = `package x

import (
	"context"

	"github.com/scyllaops/scyllaops/agentclient"
)

type ring struct{}

func (ring) DescribeRing() {}
func (ring) Tokens()       {}

func f(ctx context.Context, c *agentclient.Client) {
	_, _ = c.DescribeRing(ctx, "h", "ks", "")
	_, _ = c.Tokens(ctx, "h", "h")
	g := c.HostIDMap
	_ = g
	_, _ = c.NodeInfo(ctx, "h")
	_ = c.Raw(ctx, "h", "GET", "/storage_service/host_id", nil, nil, nil)
	var r ring
	r.DescribeRing()
	r.Tokens()
}
`
	fset := token.NewFileSet()
	af, err := parser.ParseFile(fset, "x.go", src, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	info, err := typeCheck(fset, exportImporter(fset, exports), "example.com/x", []*ast.File{af})
	if err != nil {
		t.Fatal(err)
	}
	got := discoveryUses(fset, []*ast.File{af}, info, module+"/agentclient")
	want := []string{
		`x.go:15:11: Client.DescribeRing`,
		`x.go:16:11: Client.Tokens`,
		`x.go:17:9: Client.HostIDMap`,
		`x.go:20:29: path "/storage_service/host_id"`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("uses:\n got %q\nwant %q", got, want)
	}
}
