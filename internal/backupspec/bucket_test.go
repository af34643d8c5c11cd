package backupspec

import (
	"errors"
	"strings"
	"testing"
)

func TestBucketNamingRules(t *testing.T) {
	long := strings.Repeat("a", 10<<10)
	ok := []string{
		"s3:abc", "s3:my-backups", "s3:a.b-c", "s3:" + strings.Repeat("a", 63), "dc1:s3:backups.2024",
		"gcs:abc", "gcs:my-backups", "gcs:" + strings.Repeat("a", 63) + "." + strings.Repeat("b", 63),
		"azure:abc", "azure:my-backups-1",
		"localstorage:b", "localstorage:nfs-bucket", "localstorage:a.b",
	}
	bad := map[string]string{
		"s3:ab":                          "3-63",
		"s3:-bucket":                     "starting and ending",
		"s3:bucket-":                     "starting and ending",
		"s3:a..b":                        `no ".."`,
		"s3:" + long:                     "S3 bucket",
		"s3:" + strings.Repeat("a", 64):  "S3 bucket",
		"s3:192.168.1.1":                 "IP address",
		"s3:xn--bucket":                  "S3 bucket",
		"s3:bucket-s3alias":              "S3 bucket",
		"gcs:ab":                         "GCS bucket",
		"gcs:googlebackups":              "goog",
		"gcs:my-google-bucket":           "google",
		"gcs:10.0.0.1":                   "GCS bucket",
		"gcs:a..b":                       "63 between dots",
		"gcs:" + strings.Repeat("a", 64): "GCS bucket",
		"azure:ab":                       "Azure container",
		"azure:a.bc":                     "Azure container",
		"azure:a--bc":                    `no "--"`,
		"azure:-abc":                     "Azure container",
		"localstorage:..":                "localstorage directory",
		"localstorage:.hidden":           "localstorage directory",
		"localstorage:" + long:           "localstorage directory",
	}
	for _, s := range ok {
		if _, err := ParseLocation(s); err != nil {
			t.Errorf("ParseLocation(%.80q) = %v, want ok", s, err)
		}
	}
	for s, want := range bad {
		_, err := ParseLocation(s)
		var ie *InvalidError
		if !errors.As(err, &ie) || ie.Field != "location" || !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseLocation(%.80q) = %v, want an invalid location", s, err)
			continue
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("ParseLocation(%.80q) = %v, want it to say %q", s, err, want)
		}
		if len(err.Error()) > 1000 {
			t.Errorf("ParseLocation(%.80q): error of %d bytes, want it short", s, len(err.Error()))
		}
	}
}
