package registry

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/cbormode"
)

// Hash is the SHA-256 of a module's bytes; it names the module everywhere.
// It prints, and marshals to JSON or text, as 64 lowercase hex digits, and
// travels in CBOR as a 32-byte string.
type Hash [32]byte

// HashOf returns the hash of a module's bytes.
func HashOf(b []byte) Hash { return sha256.Sum256(b) }

// ParseHash parses 64 hex digits (either case).
func ParseHash(s string) (Hash, error) {
	var h Hash
	if len(s) != 2*len(h) {
		return Hash{}, fmt.Errorf("%w: module hash %q must be %d hex digits, not %d", wasmactor.ErrBadArgument, clip(s), 2*len(h), len(s))
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return Hash{}, fmt.Errorf("%w: module hash %q is not hex", wasmactor.ErrBadArgument, clip(s))
	}
	return h, nil
}

// String returns the 64 lowercase hex digits.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// Short returns the first 12 hex digits, enough to tell modules apart in
// listings and to pin a version (Factory@prefix).
func (h Hash) Short() string { return hex.EncodeToString(h[:6]) }

// IsZero reports whether h is the zero hash, which names no module.
func (h Hash) IsZero() bool { return h == Hash{} }

// MarshalText implements encoding.TextMarshaler (so JSON gets the hex string).
func (h Hash) MarshalText() ([]byte, error) {
	b := make([]byte, 2*len(h))
	hex.Encode(b, h[:])
	return b, nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (h *Hash) UnmarshalText(b []byte) error {
	v, err := ParseHash(string(b))
	if err != nil {
		return err
	}
	*h = v
	return nil
}

// MarshalCBOR encodes the hash as a 32-byte CBOR byte string.
func (h Hash) MarshalCBOR() ([]byte, error) { return cbormode.Deterministic().Marshal(h[:]) }

// UnmarshalCBOR accepts exactly a 32-byte CBOR byte string. Without it a
// shorter string would silently decode into a zero-padded hash.
func (h *Hash) UnmarshalCBOR(b []byte) error {
	var raw []byte
	if err := cbormode.Strict().Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("module hash: %w", err)
	}
	if len(raw) != len(h) {
		return fmt.Errorf("module hash: %d bytes, want %d", len(raw), len(h))
	}
	copy(h[:], raw)
	return nil
}

// clip shortens text quoted in error messages so hostile input cannot make
// errors (and logs) huge.
func clip(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
