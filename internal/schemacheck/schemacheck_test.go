package schemacheck

import (
	"errors"
	"os"
	"testing"
)

func TestValidate(t *testing.T) {
	s, err := Load(os.DirFS("testdata"), "schemas")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate("pairs", []byte(`[{"key":"a","value":"b"}]`)); err != nil {
		t.Fatalf("valid document refused: %v", err)
	}
	for _, bad := range []string{`[{"key":"a"}]`, `[{"key":"a","value":1}]`, `{"key":"a","value":"b"}`, `[{"key":"a","value":"b","x":1}]`, `not json`} {
		if err := s.Validate("pairs", []byte(bad)); err == nil {
			t.Errorf("invalid document %s accepted", bad)
		}
	}
	if err := s.Validate("nope", []byte(`1`)); !errors.Is(err, ErrUnknownSchema) {
		t.Fatalf("unknown schema: got %v, want ErrUnknownSchema", err)
	}
}
