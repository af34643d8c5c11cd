package scyllaops

import (
	"reflect"
	"testing"
)

// locationGroups keeps at most one location per DC in a group, in order,
// and leaves unparsable locations to the service's error.
func TestLocationGroups(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want [][]string
	}{
		{nil, nil},
		{[]string{"s3:a"}, [][]string{{"s3:a"}}},
		{[]string{"s3:a", "dc1:s3:b", "dc2:gcs:c"}, [][]string{{"s3:a", "dc1:s3:b", "dc2:gcs:c"}}},
		{[]string{"s3:a", "s3:b", "dc1:s3:c", "dc1:s3:d", "s3:e"},
			[][]string{{"s3:a", "dc1:s3:c"}, {"s3:b", "dc1:s3:d"}, {"s3:e"}}},
		{[]string{"s3:a", "s3:b", "nope"}, [][]string{{"s3:a", "s3:b", "nope"}}},
	} {
		if got := locationGroups(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("locationGroups(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
