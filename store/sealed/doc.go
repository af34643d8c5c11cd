// Package sealed encrypts the secret drawer of any store.Store at rest:
// Wrap returns a store whose PutSecret seals each value with AES-256-GCM
// before the driver sees it and whose GetSecret opens it, so memstore,
// boltstore and cqlstore all keep only ciphertext. Everything else passes
// through unchanged.
//
// A sealed value is a header ("\x00scyllaops-sealed\x01"), the 4-byte ID
// of the key (the start of its SHA-256), a 12-byte random nonce and the
// ciphertext; the cluster ID and the secret's key are authenticated
// data, so a value cannot be moved to another cluster or key.
//
// # Keys
//
// A Keyring holds the current key, which seals, and older keys, which
// only open. Keys are 32 random bytes written in base64, one per line
// (or separated by commas), the current one first; lines starting with
// '#' are comments. LoadKeyring reads them from a file or an environment
// variable.
//
// Rotation: put a new key on the first line and keep the old one below
// it, restart, and call Reseal (the server does at start): every secret
// is then sealed with the new key, and the old line can go.
//
// Without a keyring (Wrap with nil) values are stored as given and a
// sealed value read back is an error saying a key is needed. Values
// stored before a key was configured are returned as they are until
// Reseal seals them.
package sealed
