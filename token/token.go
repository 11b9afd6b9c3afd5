package token

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fxamacker/cbor/v2"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/cbormode"
)

// Limits of a token. A token travels in one 4 KiB handshake frame, so its
// wire form (without its secret) is at most MaxWireLen bytes.
const (
	// Prefix starts a token's text, so that a token is recognisable (and
	// secret scanners can find one).
	Prefix = "wat1."
	// MaxCaveats bounds the caveats of one token.
	MaxCaveats = 16
	// MaxPatterns bounds the patterns of one caveat's list.
	MaxPatterns = 32
	// MaxPatternLen bounds one pattern, in bytes.
	MaxPatternLen = 256
	// MaxWireLen bounds the token without its secret, in bytes.
	MaxWireLen = 3072
	// maxTextLen bounds a token's text: Prefix and the base64 of the wire
	// form with its 32-byte secret.
	maxTextLen = len(Prefix) + (MaxWireLen+64)*4/3 + 4

	version = 1
	idLen   = 16
	macLen  = sha256.Size
)

var (
	// ErrMalformed: text or bytes that are not a token, or a caveat that
	// cannot be minted. It matches [wasmactor.ErrBadArgument].
	ErrMalformed = fmt.Errorf("%w: malformed token", wasmactor.ErrBadArgument)
	// ErrInvalid: a token not minted from this cluster's cookie, or
	// altered since (a caveat removed or changed). It matches
	// [wasmactor.ErrPermission].
	ErrInvalid = fmt.Errorf("%w: token not valid for this cluster", wasmactor.ErrPermission)
	// ErrExpired: a token past its expiry. It matches
	// [wasmactor.ErrPermission].
	ErrExpired = fmt.Errorf("%w: token expired", wasmactor.ErrPermission)
)

// Caveat narrows a token. Every field set restricts it; the zero value of a
// field restricts nothing. A token's authority is what all its caveats
// allow together: the least role, a factory or name that matches every
// list, the earliest expiry.
type Caveat struct {
	// Role caps the role.
	Role Role
	// Factories are patterns (path.Match syntax, matched against the
	// factory name without an @version) of the factories in reach.
	Factories []string
	// Names are patterns (path.Match syntax: '*' does not cross '/') of
	// the names an actor in reach holds, and a spawn must give.
	Names []string
	// Expires is when the token stops working (kept to the second,
	// rounded down).
	Expires time.Time
}

// caveatWire is a caveat as minted. Pointers tell a key that is absent
// from one present with a zero value, which is refused: a verifier must
// read a caveat exactly as its author meant it, or not at all.
type caveatWire struct {
	Role      *uint8    `cbor:"1,keyasint,omitempty"`
	Factories *[]string `cbor:"2,keyasint,omitempty"`
	Names     *[]string `cbor:"3,keyasint,omitempty"`
	Expires   *int64    `cbor:"4,keyasint,omitempty"`
}

// tokenWire is a token as encoded. MAC is absent in the handshake form.
type tokenWire struct {
	Version uint64   `cbor:"1,keyasint"`
	ID      []byte   `cbor:"2,keyasint"`
	Key     []byte   `cbor:"3,keyasint"`
	Caveats [][]byte `cbor:"4,keyasint,omitempty"`
	MAC     []byte   `cbor:"5,keyasint,omitempty"`
}

// decMode is cbormode's strict mode, refusing unknown keys (an unknown
// caveat must not be skipped: it may be the one that narrows) and with
// limits that fit a token.
var decMode = func() cbor.DecMode {
	o := cbormode.StrictOptions()
	o.ExtraReturnErrors = cbor.ExtraDecErrorUnknownField
	o.MaxArrayElements = 64
	o.MaxMapPairs = 16
	o.MaxNestedLevels = 4
	m, err := o.DecMode()
	if err != nil {
		panic("token: " + err.Error())
	}
	return m
}()

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}

// encodeCaveat checks c and encodes it.
func encodeCaveat(c Caveat) ([]byte, error) {
	var w caveatWire
	if c.Role != 0 {
		if c.Role > Admin {
			return nil, malformed("unknown role %d", c.Role)
		}
		r := uint8(c.Role)
		w.Role = &r
	}
	if c.Factories != nil {
		f := append([]string(nil), c.Factories...)
		w.Factories = &f
	}
	if c.Names != nil {
		n := append([]string(nil), c.Names...)
		w.Names = &n
	}
	if !c.Expires.IsZero() {
		e := c.Expires.Unix()
		w.Expires = &e
	}
	b, err := cbormode.Deterministic().Marshal(w)
	if err != nil {
		return nil, malformed("%v", err)
	}
	if _, err := decodeCaveat(b); err != nil {
		return nil, err
	}
	return b, nil
}

// decodeCaveat decodes and checks one caveat.
func decodeCaveat(b []byte) (Caveat, error) {
	var w caveatWire
	if err := decMode.Unmarshal(b, &w); err != nil {
		return Caveat{}, malformed("caveat: %v", err)
	}
	var c Caveat
	if w.Role == nil && w.Factories == nil && w.Names == nil && w.Expires == nil {
		return Caveat{}, malformed("empty caveat")
	}
	if w.Role != nil {
		if *w.Role < uint8(Viewer) || *w.Role > uint8(Admin) {
			return Caveat{}, malformed("unknown role %d", *w.Role)
		}
		c.Role = Role(*w.Role)
	}
	var err error
	if w.Factories != nil {
		if c.Factories, err = checkPatterns("factory", *w.Factories); err != nil {
			return Caveat{}, err
		}
	}
	if w.Names != nil {
		if c.Names, err = checkPatterns("name", *w.Names); err != nil {
			return Caveat{}, err
		}
	}
	if w.Expires != nil {
		if *w.Expires <= 0 {
			return Caveat{}, malformed("expiry %d", *w.Expires)
		}
		c.Expires = time.Unix(*w.Expires, 0)
	}
	return c, nil
}

func checkPatterns(what string, ps []string) ([]string, error) {
	if len(ps) == 0 || len(ps) > MaxPatterns {
		return nil, malformed("a %s list holds 1 to %d patterns, not %d", what, MaxPatterns, len(ps))
	}
	for _, p := range ps {
		if p == "" || len(p) > MaxPatternLen || !utf8.ValidString(p) {
			return nil, malformed("%s pattern %q: 1 to %d bytes of UTF-8", what, p, MaxPatternLen)
		}
		for _, r := range p {
			if r < ' ' || r == 0x7f {
				return nil, malformed("%s pattern %q holds a control character", what, p)
			}
		}
		if what == "factory" && strings.ContainsRune(p, '@') {
			return nil, malformed("factory pattern %q: a pattern matches factory names, without @version", p)
		}
		if _, err := path.Match(p, ""); err != nil {
			return nil, malformed("%s pattern %q: %v", what, p, err)
		}
	}
	return ps, nil
}

// Token is a capability a node verifies without a database: an id, the
// cluster's public key, a chain of caveats and a secret (the last link of
// an HMAC chain rooted in the cookie). Whoever holds a token can narrow it
// ([Token.Narrow]) and nobody without the cookie can widen it.
//
// A Token is immutable.
type Token struct {
	id      [idLen]byte
	key     [ed25519.PublicKeySize]byte
	caveats [][]byte
	claims  Grant
	mac     [macLen]byte
}

// Parse reads a token's text (as [Token.String] writes it). Surrounding
// white space is ignored.
//
// # Errors
//
// [ErrMalformed] for anything that is not a well-formed token. Parse checks
// form only: whether the cluster minted it only a node can tell.
func Parse(s string) (*Token, error) {
	s = strings.TrimSpace(s)
	if len(s) > maxTextLen {
		return nil, malformed("%d characters, at most %d", len(s), maxTextLen)
	}
	rest, ok := strings.CutPrefix(s, Prefix)
	if !ok {
		return nil, malformed("it does not start with %q", Prefix)
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		return nil, malformed("%v", err)
	}
	t, err := decode(b)
	if err != nil {
		return nil, err
	}
	if t.mac == ([macLen]byte{}) {
		return nil, malformed("no secret (a handshake form, not a token)")
	}
	return t, nil
}

// decode reads a token's CBOR: the full form (with its secret) or the
// handshake form (without; mac stays zero).
func decode(b []byte) (*Token, error) {
	if len(b) > MaxWireLen+macLen+8 {
		return nil, malformed("%d bytes", len(b))
	}
	var w tokenWire
	if err := decMode.Unmarshal(b, &w); err != nil {
		return nil, malformed("%v", err)
	}
	switch {
	case w.Version != version:
		return nil, malformed("version %d, want %d", w.Version, version)
	case len(w.ID) != idLen:
		return nil, malformed("id of %d bytes", len(w.ID))
	case len(w.Key) != ed25519.PublicKeySize:
		return nil, malformed("cluster key of %d bytes", len(w.Key))
	case len(w.Caveats) > MaxCaveats:
		return nil, malformed("%d caveats, at most %d", len(w.Caveats), MaxCaveats)
	case w.MAC != nil && len(w.MAC) != macLen:
		return nil, malformed("secret of %d bytes", len(w.MAC))
	}
	t := &Token{claims: Grant{Role: Admin}}
	copy(t.id[:], w.ID)
	copy(t.key[:], w.Key)
	copy(t.mac[:], w.MAC)
	t.claims.ID = hex.EncodeToString(t.id[:])
	for _, cb := range w.Caveats {
		c, err := decodeCaveat(cb)
		if err != nil {
			return nil, err
		}
		t.claims.add(c)
		t.caveats = append(t.caveats, cb)
	}
	if len(t.Wire()) > MaxWireLen {
		return nil, malformed("longer than %d bytes", MaxWireLen)
	}
	return t, nil
}

func (t *Token) encode(withMAC bool) []byte {
	w := tokenWire{Version: version, ID: t.id[:], Key: t.key[:], Caveats: t.caveats}
	if withMAC {
		w.MAC = t.mac[:]
	}
	b, err := cbormode.Deterministic().Marshal(w)
	if err != nil {
		panic("token: encode: " + err.Error()) // byte strings only: cannot fail
	}
	return b
}

// String is the token's text: [Prefix], then base64url. It holds the
// token's secret: treat it like a password.
func (t *Token) String() string {
	return Prefix + base64.RawURLEncoding.EncodeToString(t.encode(true))
}

// Wire is the token without its secret, as a client sends it in a
// handshake: a node recomputes the secret from the cookie.
func (t *Token) Wire() []byte { return t.encode(false) }

// ID is the token's random id in hex, for logs. It is not secret.
func (t *Token) ID() string { return t.claims.ID }

// Claims is what the token's caveats say, as a Grant. It is not verified:
// only a node (which holds the cookie) can tell whether the cluster minted
// the token.
func (t *Token) Claims() Grant { return t.claims }

// Narrow returns a copy of t with one more caveat. The result allows at most
// what t allows, whatever c says; no caveat can be removed from it again.
//
// # Errors
//
// [ErrMalformed] for a caveat with nothing in it or a bad pattern, or a
// token that would exceed its limits.
func (t *Token) Narrow(c Caveat) (*Token, error) {
	if len(t.caveats) >= MaxCaveats {
		return nil, malformed("a token holds at most %d caveats", MaxCaveats)
	}
	cb, err := encodeCaveat(c)
	if err != nil {
		return nil, err
	}
	dc, _ := decodeCaveat(cb)
	n := &Token{id: t.id, key: t.key, caveats: append(t.caveats[:len(t.caveats):len(t.caveats)], cb), claims: t.claims}
	n.claims.Factories = n.claims.Factories[:len(n.claims.Factories):len(n.claims.Factories)]
	n.claims.Names = n.claims.Names[:len(n.claims.Names):len(n.claims.Names)]
	n.claims.add(dc)
	n.mac = link(t.mac, cb)
	if len(n.Wire()) > MaxWireLen {
		return nil, malformed("longer than %d bytes", MaxWireLen)
	}
	return n, nil
}

// Prove is the client's proof of holding t: HMAC-SHA256 keyed by its
// secret over msg (the handshake transcript). The secret never leaves the
// client.
func (t *Token) Prove(msg []byte) []byte {
	m := hmac.New(sha256.New, t.mac[:])
	m.Write(msg)
	return m.Sum(nil)
}

// VerifyNode reports whether sig is the cluster's signature of msg: proof
// that the signer holds the cookie t was minted from.
func (t *Token) VerifyNode(msg, sig []byte) bool {
	return len(sig) == ed25519.SignatureSize && ed25519.Verify(t.key[:], msg, sig)
}

// link is one step of the chain: the next secret from the previous one and
// a caveat's bytes.
func link(prev [macLen]byte, caveat []byte) [macLen]byte {
	m := hmac.New(sha256.New, prev[:])
	m.Write(caveat)
	var out [macLen]byte
	m.Sum(out[:0])
	return out
}

var errNoRole = errors.New("a minted token needs a role")
