package backupspec

import (
	"regexp"
	"strconv"
)

// Provider is a storage provider name as it appears in a location.
type Provider string

// Providers accepted in a location.
const (
	S3           Provider = "s3"
	GCS          Provider = "gcs"
	Azure        Provider = "azure"
	LocalStorage Provider = "localstorage"
)

// Valid reports whether p is one of the known providers.
func (p Provider) Valid() bool {
	switch p {
	case S3, GCS, Azure, LocalStorage:
		return true
	}
	return false
}

var (
	locationRe = regexp.MustCompile(`^(([a-zA-Z0-9\-\_\.]+):)?([a-z0-9]+):([a-z0-9\-\.]+)$`)
	dcLimitRe  = regexp.MustCompile(`^(([a-zA-Z0-9\-\_\.]+):)?([0-9]+)$`)
)

// LocationForm describes the accepted location syntax.
const LocationForm = "[dc:]provider:bucket with provider one of s3, gcs, azure, localstorage " +
	"and a DNS-like bucket (lowercase letters, digits, '-', '.'), e.g. \"dc1:s3:my-backups\""

// Location is where backups go: a bucket of a provider, optionally only
// for one DC.
type Location struct {
	// DC is empty for a location that applies to every DC lacking its
	// own.
	DC       string
	Provider Provider
	Bucket   string
}

// ParseLocation parses "[dc:]provider:bucket". The bucket must follow its
// provider's naming rules (S3 bucket, GCS bucket, Azure container; a
// localstorage name is a directory of 1-255 characters not starting with
// '.').
func ParseLocation(s string) (Location, error) {
	m := locationRe.FindStringSubmatch(s)
	if m == nil {
		return Location{}, invalid("location", LocationForm, shorten(s))
	}
	l := Location{DC: m[2], Provider: Provider(m[3]), Bucket: m[4]}
	if !l.Provider.Valid() {
		return Location{}, invalid("location", "a known provider (s3, gcs, azure, localstorage) in "+LocationForm, s)
	}
	if want := checkBucket(l.Provider, l.Bucket); want != "" {
		return Location{}, invalid("location", want, shorten(s))
	}
	return l, nil
}

// String gives the location back in its parseable form.
func (l Location) String() string {
	p := string(l.Provider) + ":" + l.Bucket
	if l.DC != "" {
		return l.DC + ":" + p
	}
	return p
}

// RemoteName is "provider:bucket", the rclone-style remote the agent
// addresses; it omits the DC.
func (l Location) RemoteName() string { return string(l.Provider) + ":" + l.Bucket }

// RemotePath is "provider:bucket/p".
func (l Location) RemotePath(p string) string { return l.RemoteName() + "/" + p }

// MarshalText implements encoding.TextMarshaler.
func (l Location) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseLocation.
func (l *Location) UnmarshalText(b []byte) error {
	v, err := ParseLocation(string(b))
	if err != nil {
		return err
	}
	*l = v
	return nil
}

// LocationFor picks the location for dc: the one naming dc, else the one
// without a DC. ok is false when neither exists.
func LocationFor(locs []Location, dc string) (Location, bool) {
	var def Location
	found := false
	for _, l := range locs {
		if l.DC == dc {
			return l, true
		}
		if l.DC == "" && !found {
			def, found = l, true
		}
	}
	return def, found
}

// DCLimit is a per-DC integer limit "[dc:]N" (rate_limit in MiB/s,
// snapshot_parallel, upload_parallel).
type DCLimit struct {
	// DC is empty for the default of DCs lacking their own value.
	DC    string
	Limit int
}

// ParseDCLimit parses "[dc:]N"; field names the property for errors.
func ParseDCLimit(field, s string) (DCLimit, error) {
	m := dcLimitRe.FindStringSubmatch(s)
	if m == nil {
		return DCLimit{}, invalid(field, "[dc:]N with N a non-negative integer, e.g. \"dc1:100\" or \"10\"", s)
	}
	n, err := strconv.Atoi(m[3])
	if err != nil {
		return DCLimit{}, invalid(field, "[dc:]N with N fitting an int", s)
	}
	return DCLimit{DC: m[2], Limit: n}, nil
}

// String gives the limit back in its parseable form.
func (d DCLimit) String() string {
	if d.DC != "" {
		return d.DC + ":" + strconv.Itoa(d.Limit)
	}
	return strconv.Itoa(d.Limit)
}

// MarshalText implements encoding.TextMarshaler.
func (d DCLimit) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseDCLimit.
func (d *DCLimit) UnmarshalText(b []byte) error {
	v, err := ParseDCLimit("limit", string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// LimitFor picks the limit for dc: the one naming dc, else the one
// without a DC, else def.
func LimitFor(limits []DCLimit, dc string, def int) int {
	v, found := def, false
	for _, l := range limits {
		if l.DC == dc {
			return l.Limit
		}
		if l.DC == "" && !found {
			v, found = l.Limit, true
		}
	}
	return v
}

// shorten keeps an error readable when the offending value is huge.
func shorten(s string) string {
	if len(s) <= 100 {
		return s
	}
	return s[:64] + "… (" + strconv.Itoa(len(s)) + " bytes)"
}
