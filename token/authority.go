package token

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"time"

	"github.com/wasmactor/wasmactor"
)

// Labels of the keys derived from the cookie (HKDF-SHA256, no salt). Each
// key has one use.
const (
	rootKeyInfo    = "wasmactor token root key v1"
	signingKeyInfo = "wasmactor node signing key v1"
	rootMACLabel   = "wasmactor token v1"
)

// MinCookieLen is the shortest cookie an Authority accepts, as nodes do.
const MinCookieLen = 16

// Authority mints and verifies tokens: it is what holding the cookie
// means. Every node of a cluster derives the same Authority from the
// cookie, so any node verifies any token without a database.
//
// It holds two keys derived from the cookie: the root of the tokens' HMAC
// chains, and an Ed25519 key with which nodes sign their handshakes with
// token clients. Tokens carry the public half, so a client that holds only
// a token can tell a node (which holds the cookie) from an impostor.
type Authority struct {
	root [macLen]byte
	sign ed25519.PrivateKey
	pub  [ed25519.PublicKeySize]byte
}

// NewAuthority derives the Authority of a cookie.
//
// # Errors
//
// [wasmactor.ErrBadArgument] for a cookie shorter than [MinCookieLen].
func NewAuthority(cookie []byte) (*Authority, error) {
	if len(cookie) < MinCookieLen {
		return nil, fmt.Errorf("%w: cookie must be at least %d bytes, got %d", wasmactor.ErrBadArgument, MinCookieLen, len(cookie))
	}
	a := &Authority{}
	root, err := hkdf.Key(sha256.New, cookie, nil, rootKeyInfo, macLen)
	if err != nil {
		return nil, err
	}
	copy(a.root[:], root)
	seed, err := hkdf.Key(sha256.New, cookie, nil, signingKeyInfo, ed25519.SeedSize)
	if err != nil {
		return nil, err
	}
	a.sign = ed25519.NewKeyFromSeed(seed)
	copy(a.pub[:], a.sign.Public().(ed25519.PublicKey))
	return a, nil
}

// Mint makes a new token narrowed by caveats, one of which must name a
// role: a token is never admin by omission.
//
// # Errors
//
// [ErrMalformed] for a caveat with nothing in it, a bad pattern, no role,
// or too many caveats.
func (a *Authority) Mint(caveats ...Caveat) (*Token, error) {
	hasRole := false
	for _, c := range caveats {
		hasRole = hasRole || c.Role != 0
	}
	if !hasRole {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, errNoRole)
	}
	var id [idLen]byte
	if _, err := io.ReadFull(rand.Reader, id[:]); err != nil {
		return nil, err
	}
	return a.mint(id, caveats)
}

// mint is Mint with the id given.
func (a *Authority) mint(id [idLen]byte, caveats []Caveat) (*Token, error) {
	t := &Token{id: id, key: a.pub, claims: Grant{Role: Admin}}
	t.mac = a.head(t)
	t.claims.ID = hex.EncodeToString(t.id[:])
	var err error
	for _, c := range caveats {
		if t, err = t.Narrow(c); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// head is the first secret of t's chain: it binds the id and the cluster
// key (id and key have fixed lengths).
func (a *Authority) head(t *Token) [macLen]byte {
	m := hmac.New(sha256.New, a.root[:])
	io.WriteString(m, rootMACLabel)
	m.Write([]byte{0})
	m.Write(t.id[:])
	m.Write(t.key[:])
	var out [macLen]byte
	m.Sum(out[:0])
	return out
}

// secret recomputes t's secret from the cookie, or fails for a token
// meant for another cluster.
func (a *Authority) secret(t *Token) ([macLen]byte, error) {
	if !hmac.Equal(t.key[:], a.pub[:]) {
		return [macLen]byte{}, ErrInvalid
	}
	s := a.head(t)
	for _, c := range t.caveats {
		s = link(s, c)
	}
	return s, nil
}

// Verify checks a whole token (with its secret) and returns its authority.
//
// # Errors
//
// [ErrInvalid] for a token not minted from this cookie or altered since,
// [ErrExpired] for one past its expiry at now.
func (a *Authority) Verify(t *Token, now time.Time) (Grant, error) {
	s, err := a.secret(t)
	if err != nil {
		return Grant{}, err
	}
	if !hmac.Equal(s[:], t.mac[:]) {
		return Grant{}, ErrInvalid
	}
	return checkExpiry(t.claims, now)
}

// Check verifies a handshake: wire is the token without its secret (as
// [Token.Wire] makes it), proof what [Token.Prove] made of msg. It returns
// the token's authority.
//
// # Errors
//
// [ErrMalformed] for wire that is not a token, [ErrInvalid] for a wrong
// proof (a token not of this cluster, altered, or a proof for another
// message), [ErrExpired].
func (a *Authority) Check(wire, proof, msg []byte, now time.Time) (Grant, error) {
	t, err := decode(wire)
	if err != nil {
		return Grant{}, err
	}
	s, err := a.secret(t)
	if err != nil {
		return Grant{}, err
	}
	m := hmac.New(sha256.New, s[:])
	m.Write(msg)
	if !hmac.Equal(proof, m.Sum(nil)) {
		return Grant{}, ErrInvalid
	}
	return checkExpiry(t.claims, now)
}

func checkExpiry(g Grant, now time.Time) (Grant, error) {
	if g.Expired(now) {
		return Grant{}, fmt.Errorf("%w at %s", ErrExpired, g.Expires.UTC().Format(time.RFC3339))
	}
	return g, nil
}

// Sign is a node's signature of msg (a handshake transcript) with the
// cluster's signing key; [Token.VerifyNode] checks it.
func (a *Authority) Sign(msg []byte) []byte { return ed25519.Sign(a.sign, msg) }
