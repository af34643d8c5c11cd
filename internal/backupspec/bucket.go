package backupspec

import (
	"net/netip"
	"strings"
)

// Bucket naming rules of each provider, checked by ParseLocation so that a
// name the provider would refuse is refused with the task, not at the
// first upload.
const (
	s3BucketForm = "an S3 bucket name: 3-63 characters of lowercase letters, digits, '.' and '-', " +
		"starting and ending with a letter or digit, no \"..\", not an IP address, e.g. \"s3:my-backups\""
	gcsBucketForm = "a GCS bucket name: 3-63 characters of lowercase letters, digits, '.' and '-' " +
		"(up to 222 with dots, 63 between dots), starting and ending with a letter or digit, " +
		"not an IP address, not starting with \"goog\" nor containing \"google\", e.g. \"gcs:my-backups\""
	azureBucketForm = "an Azure container name: 3-63 characters of lowercase letters, digits and '-', " +
		"starting and ending with a letter or digit, no \"--\", e.g. \"azure:my-backups\""
	localBucketForm = "a localstorage directory name: 1-255 characters of lowercase letters, digits, '.' and '-', " +
		"not starting with '.', e.g. \"localstorage:backups\""
)

// checkBucket applies the naming rules of p to b (already known to hold
// only lowercase letters, digits, '-' and '.'). It returns the accepted
// form when b breaks them, "" when it is fine.
func checkBucket(p Provider, b string) string {
	switch p {
	case S3:
		if !dnsLike(b, 63) || strings.Contains(b, "..") || isIP(b) ||
			hasAnyPrefix(b, "xn--", "sthree-", "amzn-s3-demo-") ||
			hasAnySuffix(b, "-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3") {
			return s3BucketForm
		}
	case GCS:
		maxLen := 63
		if strings.Contains(b, ".") {
			maxLen = 222
		}
		if !dnsLike(b, maxLen) || isIP(b) || strings.HasPrefix(b, "goog") || strings.Contains(b, "google") {
			return gcsBucketForm
		}
		for part := range strings.SplitSeq(b, ".") {
			if part == "" || len(part) > 63 {
				return gcsBucketForm
			}
		}
	case Azure:
		if !dnsLike(b, 63) || strings.Contains(b, ".") || strings.Contains(b, "--") {
			return azureBucketForm
		}
	case LocalStorage:
		if b == "" || len(b) > 255 || b[0] == '.' {
			return localBucketForm
		}
	}
	return ""
}

// dnsLike: 3..maxLen characters, first and last a letter or digit.
func dnsLike(b string, maxLen int) bool {
	if len(b) < 3 || len(b) > maxLen {
		return false
	}
	alnum := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }
	return alnum(b[0]) && alnum(b[len(b)-1])
}

func isIP(b string) bool {
	_, err := netip.ParseAddr(b)
	return err == nil
}

func hasAnyPrefix(s string, ps ...string) bool {
	for _, p := range ps {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func hasAnySuffix(s string, ps ...string) bool {
	for _, p := range ps {
		if strings.HasSuffix(s, p) {
			return true
		}
	}
	return false
}
