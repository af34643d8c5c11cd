package sealed

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/store"
)

// header starts every sealed value; no plaintext secret (text or JSON)
// starts with a NUL byte.
var header = []byte("\x00scyllaops-sealed\x01")

const (
	idLen    = 4
	nonceLen = 12
	// KeyLen is the length of a key in bytes (AES-256).
	KeyLen = 32
)

// ErrNoKey is the cause of GetSecret's error when a value is sealed and
// the keyring has no key that opens it.
var ErrNoKey = errors.New("sealed: no key to open the secret")

type key struct {
	id   [idLen]byte
	aead cipher.AEAD
}

// Keyring is the current key and the older keys still accepted.
type Keyring struct {
	keys []key
}

// NewKeyring returns a keyring of raw keys (KeyLen bytes each), the
// current one first.
func NewKeyring(raw ...[]byte) (*Keyring, error) {
	if len(raw) == 0 {
		return nil, store.Invalid("secrets key", "at least one key", "")
	}
	kr := &Keyring{}
	for i, r := range raw {
		if len(r) != KeyLen {
			return nil, store.Invalid(fmt.Sprintf("secrets key #%d", i+1), fmt.Sprintf("%d bytes (base64 of 32 random bytes, e.g. from `head -c32 /dev/urandom | base64`), got %d", KeyLen, len(r)), "")
		}
		block, err := aes.NewCipher(r)
		if err != nil {
			return nil, fmt.Errorf("sealed: %w", err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("sealed: %w", err)
		}
		sum := sha256.Sum256(r)
		var k key
		copy(k.id[:], sum[:idLen])
		k.aead = aead
		kr.keys = append(kr.keys, k)
	}
	return kr, nil
}

// ParseKeyring parses keys in base64, one per line or separated by
// commas, the current one first; blank lines and lines starting with '#'
// are skipped. source names where the text came from, for errors.
func ParseKeyring(source, text string) (*Keyring, error) {
	var raw [][]byte
	for line := range strings.SplitSeq(strings.ReplaceAll(text, ",", "\n"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		b, err := base64.StdEncoding.DecodeString(line)
		if err != nil {
			return nil, store.Invalid(source, "base64 keys of 32 bytes, one per line, the current one first", "(not base64)")
		}
		raw = append(raw, b)
	}
	if len(raw) == 0 {
		return nil, store.Invalid(source, "at least one base64 key of 32 bytes", "(empty)")
	}
	kr, err := NewKeyring(raw...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	return kr, nil
}

// LoadKeyring reads the keys from file, or else from the environment
// variable env; both empty returns nil (no encryption). Errors name the
// file or variable.
func LoadKeyring(file, env string) (*Keyring, error) {
	switch {
	case file != "":
		b, err := os.ReadFile(file) //nolint:gosec // the operator's key file
		if err != nil {
			return nil, store.Invalid("secrets key file", "a readable file of base64 keys ("+err.Error()+")", file)
		}
		return ParseKeyring("secrets key file "+file, string(b))
	case env != "":
		v, ok := os.LookupEnv(env)
		if !ok || strings.TrimSpace(v) == "" {
			return nil, store.Invalid("secrets key env", "the name of a set environment variable holding base64 keys", env)
		}
		return ParseKeyring("secrets key env "+env, v)
	}
	return nil, nil
}

// Len returns the number of keys.
func (kr *Keyring) Len() int { return len(kr.keys) }

func aad(clusterID uuid.UUID, name string) []byte {
	return append(clusterID[:len(clusterID):len(clusterID)], name...)
}

func (kr *Keyring) seal(clusterID uuid.UUID, name string, v []byte) ([]byte, error) {
	k := kr.keys[0]
	out := make([]byte, 0, len(header)+idLen+nonceLen+len(v)+k.aead.Overhead())
	out = append(out, header...)
	out = append(out, k.id[:]...)
	nonce := make([]byte, nonceLen)
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("sealed: nonce: %w", err)
	}
	out = append(out, nonce...)
	return k.aead.Seal(out, nonce, v, aad(clusterID, name)), nil
}

// IsSealed reports whether a stored value is sealed.
func IsSealed(v []byte) bool { return bytes.HasPrefix(v, header) }

// keyID returns the key ID of a sealed value.
func keyID(v []byte) []byte { return v[len(header) : len(header)+idLen] }

func (kr *Keyring) open(clusterID uuid.UUID, name string, v []byte) ([]byte, error) {
	if len(v) < len(header)+idLen+nonceLen {
		return nil, fmt.Errorf("sealed: secret %s of cluster %s: truncated value", name, clusterID)
	}
	id := keyID(v)
	if kr != nil {
		for _, k := range kr.keys {
			if !bytes.Equal(k.id[:], id) {
				continue
			}
			rest := v[len(header)+idLen:]
			pt, err := k.aead.Open(nil, rest[:nonceLen], rest[nonceLen:], aad(clusterID, name))
			if err != nil {
				return nil, fmt.Errorf("sealed: secret %s of cluster %s does not open (damaged, or moved from another cluster): %w", name, clusterID, err)
			}
			return pt, nil
		}
	}
	return nil, fmt.Errorf("%w: secret %s of cluster %s was sealed with key %s, which the configured keys (secrets_key_file / secrets_key_env) do not include; "+
		"add that key after the current one", ErrNoKey, name, clusterID, hex.EncodeToString(id))
}

// current reports whether v is sealed with the current key.
func (kr *Keyring) current(v []byte) bool {
	return kr != nil && IsSealed(v) && len(v) >= len(header)+idLen && bytes.Equal(keyID(v), kr.keys[0].id[:])
}

// Store seals the secret drawer of the store it wraps.
type Store struct {
	store.Store
	kr *Keyring
}

var (
	_ store.Store           = (*Store)(nil)
	_ store.ProgressBatcher = (*Store)(nil)
)

// Wrap returns s with its secrets sealed by kr (nil: stored as given).
func Wrap(s store.Store, kr *Keyring) *Store { return &Store{Store: s, kr: kr} }

// Unwrap returns the wrapped store.
func (s *Store) Unwrap() store.Store { return s.Store }

// PutSecret seals value with the current key and stores it.
func (s *Store) PutSecret(ctx context.Context, clusterID uuid.UUID, name string, value []byte) error {
	if s.kr == nil {
		return s.Store.PutSecret(ctx, clusterID, name, value)
	}
	if err := store.CheckSecretKey(clusterID, name); err != nil {
		return fmt.Errorf("sealed: %w", err)
	}
	v, err := s.kr.seal(clusterID, name, value)
	if err != nil {
		return err
	}
	return s.Store.PutSecret(ctx, clusterID, name, v)
}

// GetSecret returns the opened value. A value stored before encryption
// was configured is returned as stored.
func (s *Store) GetSecret(ctx context.Context, clusterID uuid.UUID, name string) ([]byte, error) {
	v, err := s.Store.GetSecret(ctx, clusterID, name)
	if err != nil || !IsSealed(v) {
		return v, err
	}
	return s.kr.open(clusterID, name, v)
}

// PutProgressBatch passes through, keeping the driver's batching.
func (s *Store) PutProgressBatch(ctx context.Context, ps []*store.Progress) error {
	return store.PutProgressBatch(ctx, s.Store, ps)
}

// Reseal seals every secret of every cluster with the current key: values
// stored in plaintext or sealed with an older key. It returns how many it
// rewrote. Run it after adding a key (rotation) or configuring one.
func (s *Store) Reseal(ctx context.Context) (int, error) {
	if s.kr == nil {
		return 0, nil
	}
	cs, err := s.ListClusters(ctx)
	if err != nil {
		return 0, fmt.Errorf("sealed: reseal: %w", err)
	}
	n := 0
	for _, c := range cs {
		names, err := s.ListSecretKeys(ctx, c.ID)
		if err != nil {
			return n, fmt.Errorf("sealed: reseal: %w", err)
		}
		for _, name := range names {
			raw, err := s.Store.GetSecret(ctx, c.ID, name)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return n, fmt.Errorf("sealed: reseal: %w", err)
			}
			if s.kr.current(raw) {
				continue
			}
			v := raw
			if IsSealed(raw) {
				if v, err = s.kr.open(c.ID, name, raw); err != nil {
					return n, fmt.Errorf("sealed: reseal: %w", err)
				}
			}
			if err := s.PutSecret(ctx, c.ID, name, v); err != nil {
				return n, fmt.Errorf("sealed: reseal: %w", err)
			}
			n++
		}
	}
	return n, nil
}
