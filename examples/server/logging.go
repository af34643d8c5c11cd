package main

import (
	"io"
	"log/slog"
	"strings"
)

const redacted = "<redacted>"

// secretKey reports whether a log attribute key names a secret.
func secretKey(k string) bool {
	k = strings.ToLower(k)
	for _, s := range []string{"password", "passwd", "token", "secret", "authorization", "credential", "private_key", "key_file_content"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

// newLogger returns a JSON logger that redacts secret attributes, in
// groups too.
func newLogger(w io.Writer, level string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(level))
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: lv,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if secretKey(a.Key) && (a.Value.Kind() != slog.KindString || a.Value.String() != "") {
				return slog.String(a.Key, redacted)
			}
			if a.Value.Kind() == slog.KindAny {
				if m, ok := a.Value.Any().(map[string]any); ok {
					return slog.Any(a.Key, redactMap(m))
				}
			}
			return a
		},
	}))
}

func redactMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		switch {
		case secretKey(k):
			if s, ok := v.(string); ok && s == "" {
				out[k] = s
			} else {
				out[k] = redacted
			}
		default:
			if mm, ok := v.(map[string]any); ok {
				v = redactMap(mm)
			}
			out[k] = v
		}
	}
	return out
}
