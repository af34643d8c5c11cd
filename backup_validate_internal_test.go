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
		{[]string{"s3:aaa"}, [][]string{{"s3:aaa"}}},
		{[]string{"s3:aaa", "dc1:s3:bbb", "dc2:gcs:ccc"}, [][]string{{"s3:aaa", "dc1:s3:bbb", "dc2:gcs:ccc"}}},
		{[]string{"s3:aaa", "s3:bbb", "dc1:s3:ccc", "dc1:s3:ddd", "s3:eee"},
			[][]string{{"s3:aaa", "dc1:s3:ccc"}, {"s3:bbb", "dc1:s3:ddd"}, {"s3:eee"}}},
		{[]string{"s3:aaa", "s3:bbb", "nope"}, [][]string{{"s3:aaa", "s3:bbb", "nope"}}},
	} {
		if got := locationGroups(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("locationGroups(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
