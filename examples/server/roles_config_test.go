package main

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestConfigRoles: roles default to both; api-only and scheduler-only
// parse; a scheduler-only server needs no listener; bad roles name the key.
func TestConfigRoles(t *testing.T) {
	c, err := ParseConfig([]byte("http: 127.0.0.1:5080\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !c.HasRole(RoleAPI) || !c.HasRole(RoleScheduler) {
		t.Errorf("default roles %v, want api and scheduler", c.Roles)
	}
	c, err = ParseConfig([]byte("roles: [scheduler]\n"))
	if err != nil {
		t.Fatalf("scheduler-only without http: %v", err)
	}
	if c.HasRole(RoleAPI) || !c.HasRole(RoleScheduler) {
		t.Errorf("roles %v, want scheduler only", c.Roles)
	}
	if _, err := ParseConfig([]byte("roles: [api]\n")); err == nil || !strings.Contains(err.Error(), "set http or https") {
		t.Errorf("api-only without a listener = %v, want the http error", err)
	}
	for _, y := range []string{"roles: [web]\n", "roles: [api, api]\n", "roles: {api: 1}\n"} {
		_, err := ParseConfig([]byte("http: 127.0.0.1:5080\n" + y))
		if err == nil || !strings.Contains(err.Error(), "roles") {
			t.Errorf("ParseConfig(%q) = %v, want an error naming roles", y, err)
		}
	}
}

// TestConfigEffectiveDefaults: the config the server logs at start holds
// the values that apply, not zeros (lease_ttl: 0s was logged where 30s
// applied).
func TestConfigEffectiveDefaults(t *testing.T) {
	c, err := ParseConfig([]byte("http: 127.0.0.1:5080\n"))
	if err != nil {
		t.Fatal(err)
	}
	r := c.Redacted()
	if r["lease_ttl"] != (30*time.Second).String() || r["sync_interval"] != (10*time.Second).String() {
		t.Errorf("logged lease_ttl %v, sync_interval %v; want 30s and 10s", r["lease_ttl"], r["sync_interval"])
	}
	if !reflect.DeepEqual(r["roles"], RoleList{"api", "scheduler"}) {
		t.Errorf("logged roles %v", r["roles"])
	}
}

// TestSampleConfigNamesEveryKey: server.yaml, which --help prints, names
// every key the server reads.
func TestSampleConfigNamesEveryKey(t *testing.T) {
	var keys []string
	var walk func(prefix string, typ reflect.Type)
	walk = func(prefix string, typ reflect.Type) {
		for f := range typ.Fields() {
			tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if tag == "" || tag == "-" || f.Type.Name() == "Node" { // yaml.Node: an ignored Scylla Manager key
				continue
			}
			if f.Type.Kind() == reflect.Struct && f.Type.Name() != "FreeMinPercent" && f.Type != reflect.TypeFor[time.Duration]() {
				walk(prefix+tag+".", f.Type)
				continue
			}
			keys = append(keys, prefix+tag)
		}
	}
	walk("", reflect.TypeFor[Config]())
	var missing []string
	for _, k := range keys {
		leaf := k[strings.LastIndex(k, ".")+1:]
		if !strings.Contains(sampleConfig, leaf+":") {
			missing = append(missing, k)
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		t.Errorf("server.yaml (printed by --help) does not name these keys: %v", missing)
	}
}
