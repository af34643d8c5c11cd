package schemacheck

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// ErrUnknownSchema is returned by Validate for a name Load did not see.
var ErrUnknownSchema = errors.New("schemacheck: unknown schema")

const base = "mem://schemas/"

// Set is a compiled set of schemas keyed by file name without ".json".
type Set struct {
	schemas map[string]*jsonschema.Schema
}

// Load compiles every *.json file directly under dir in fsys (for example
// os.DirFS("testdata") and "schemas").
func Load(fsys fs.FS, dir string) (*Set, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("schemacheck: read %s: %w", dir, err)
	}
	c := jsonschema.NewCompiler()
	var names []string
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("schemacheck: read %s: %w", e.Name(), err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("schemacheck: parse %s: %w", e.Name(), err)
		}
		if err := c.AddResource(base+e.Name(), doc); err != nil {
			return nil, fmt.Errorf("schemacheck: add %s: %w", e.Name(), err)
		}
		names = append(names, e.Name())
	}
	s := &Set{schemas: make(map[string]*jsonschema.Schema)}
	for _, n := range names {
		sch, err := c.Compile(base + n)
		if err != nil {
			return nil, fmt.Errorf("schemacheck: compile %s: %w", n, err)
		}
		s.schemas[strings.TrimSuffix(n, ".json")] = sch
	}
	return s, nil
}

// Names lists the loaded schema names, sorted.
func (s *Set) Names() []string {
	out := make([]string, 0, len(s.schemas))
	for n := range s.schemas {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Validate checks the JSON document body against the named schema.
func (s *Set) Validate(name string, body []byte) error {
	sch, ok := s.schemas[name]
	if !ok {
		return fmt.Errorf("%w %q (have %v)", ErrUnknownSchema, name, s.Names())
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("schemacheck: %s: body is not JSON: %w (body %.200q)", name, err, body)
	}
	if err := sch.Validate(v); err != nil {
		return fmt.Errorf("schemacheck: %s: %w (body %.300q)", name, err, body)
	}
	return nil
}
