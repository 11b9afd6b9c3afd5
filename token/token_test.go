package token

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/cbormode"
)

var (
	testCookie  = []byte("0123456789abcdef0123456789abcdef")
	otherCookie = []byte("fedcba9876543210fedcba9876543210")
	now         = time.Unix(1_800_000_000, 0)
)

func authority(t testing.TB, cookie []byte) *Authority {
	t.Helper()
	a, err := NewAuthority(cookie)
	require.NoError(t, err)
	return a
}

func mint(t testing.TB, a *Authority, cs ...Caveat) *Token {
	t.Helper()
	tok, err := a.Mint(cs...)
	require.NoError(t, err)
	return tok
}

// reencode rebuilds a token from parts, keeping the secret given: what a
// forger can do with a token in hand.
func reencode(t *testing.T, tok *Token, caveats [][]byte, mac [macLen]byte) *Token {
	t.Helper()
	f := &Token{id: tok.id, key: tok.key, caveats: caveats, mac: mac}
	back, err := Parse(f.String())
	require.NoError(t, err)
	return back
}

func TestMintParseVerify(t *testing.T) {
	a := authority(t, testCookie)
	exp := now.Add(24 * time.Hour)
	tok := mint(t, a, Caveat{Role: Operator}, Caveat{Factories: []string{"Account"}}, Caveat{Names: []string{"bank/*"}}, Caveat{Expires: exp})
	s := tok.String()
	require.True(t, strings.HasPrefix(s, Prefix))
	back, err := Parse("  " + s + "\n")
	require.NoError(t, err)
	require.Equal(t, s, back.String())
	require.Equal(t, tok.ID(), back.ID())
	require.Len(t, tok.ID(), 32)

	g, err := a.Verify(back, now)
	require.NoError(t, err)
	require.Equal(t, Grant{Role: Operator, Factories: [][]string{{"Account"}}, Names: [][]string{{"bank/*"}}, Expires: exp, ID: tok.ID()}, g)
	require.Equal(t, g, back.Claims(), "the claims a holder reads are what a node verifies")
	require.Equal(t, "operator, factories Account, names bank/*, expires 2027-01-16T08:00:00Z", g.String())

	// Two mints of the same caveats are two tokens.
	require.NotEqual(t, s, mint(t, a, Caveat{Role: Operator}).String())
}

func TestMintNeedsARole(t *testing.T) {
	a := authority(t, testCookie)
	_, err := a.Mint(Caveat{Factories: []string{"Account"}})
	require.ErrorIs(t, err, ErrMalformed)
	_, err = a.Mint()
	require.ErrorIs(t, err, ErrMalformed)
	_, err = NewAuthority([]byte("short"))
	require.ErrorIs(t, err, wasmactor.ErrBadArgument)
}

func TestTokenOfAnotherCookieIsInvalid(t *testing.T) {
	tok := mint(t, authority(t, otherCookie), Caveat{Role: Admin})
	_, err := authority(t, testCookie).Verify(tok, now)
	require.ErrorIs(t, err, ErrInvalid)
	require.ErrorIs(t, err, wasmactor.ErrPermission)

	// Even with this cluster's public key swapped in, the chain fails.
	forged := &Token{id: tok.id, key: authority(t, testCookie).pub, caveats: tok.caveats, mac: tok.mac}
	_, err = authority(t, testCookie).Verify(forged, now)
	require.ErrorIs(t, err, ErrInvalid)
}

func TestExpiry(t *testing.T) {
	a := authority(t, testCookie)
	exp := now.Add(time.Hour)
	tok := mint(t, a, Caveat{Role: Viewer, Expires: exp.Add(500 * time.Millisecond)})
	_, err := a.Verify(tok, now)
	require.NoError(t, err)
	_, err = a.Verify(tok, exp.Add(-time.Second))
	require.NoError(t, err)
	_, err = a.Verify(tok, exp)
	require.ErrorIs(t, err, ErrExpired, "expiry is kept to the second, rounded down")
	require.ErrorIs(t, err, wasmactor.ErrPermission)
	require.True(t, tok.Claims().Expired(exp))
	require.False(t, AdminGrant().Expired(exp))

	// A later expiry added by a holder changes nothing.
	later, err := tok.Narrow(Caveat{Expires: exp.Add(time.Hour)})
	require.NoError(t, err)
	_, err = a.Verify(later, exp)
	require.ErrorIs(t, err, ErrExpired)
}

func TestNarrowNeverWidens(t *testing.T) {
	a := authority(t, testCookie)
	op := mint(t, a, Caveat{Role: Operator}, Caveat{Factories: []string{"Account", "Ledger"}})

	// A holder narrows without the cookie; the node accepts the result.
	n, err := op.Narrow(Caveat{Factories: []string{"Account"}, Names: []string{"bank/*"}})
	require.NoError(t, err)
	g, err := a.Verify(n, now)
	require.NoError(t, err)
	require.True(t, g.AllowsFactory("Account"))
	require.False(t, g.AllowsFactory("Ledger"), "every factory list must match")
	require.True(t, g.AllowsName("bank/alice"))
	require.False(t, g.AllowsName("shop/alice"))
	g0, _ := a.Verify(op, now)
	require.True(t, g0.AllowsFactory("Ledger"), "narrowing made a new token; the old one is unchanged")

	// A role caveat above the current role changes nothing.
	up, err := n.Narrow(Caveat{Role: Admin})
	require.NoError(t, err)
	g, err = a.Verify(up, now)
	require.NoError(t, err)
	require.Equal(t, Operator, g.Role)
	// A factory list naming more changes nothing either: both must match.
	wide, err := n.Narrow(Caveat{Factories: []string{"*"}})
	require.NoError(t, err)
	g, err = a.Verify(wide, now)
	require.NoError(t, err)
	require.False(t, g.AllowsFactory("Ledger"))

	// Forgeries: remove the narrowing caveat (keeping either secret),
	// change it, reorder the caveats.
	caveats := n.caveats
	for name, f := range map[string]*Token{
		"caveat removed, new secret kept": reencode(t, n, caveats[:2], n.mac),
		"caveat changed":                  reencode(t, n, [][]byte{caveats[0], caveats[1], mustCaveat(t, Caveat{Factories: []string{"*"}})}, n.mac),
		"caveats reordered":               reencode(t, n, [][]byte{caveats[1], caveats[0], caveats[2]}, n.mac),
		"role caveat removed":             reencode(t, n, caveats[1:], n.mac),
	} {
		_, err := a.Verify(f, now)
		require.ErrorIs(t, err, ErrInvalid, name)
	}
}

func mustCaveat(t *testing.T, c Caveat) []byte {
	b, err := encodeCaveat(c)
	require.NoError(t, err)
	return b
}

func TestGrantMatching(t *testing.T) {
	g := Grant{Role: Operator, Factories: [][]string{{"Acc*", "Ledger"}}, Names: [][]string{{"bank/*"}, {"*/alice", "*/bob"}}}
	for f, want := range map[string]bool{"Account": true, "Account@3f9a": true, "Ledger": true, "Ledgers": false, "Counter": false, "": false} {
		require.Equal(t, want, g.AllowsFactory(f), f)
	}
	for n, want := range map[string]bool{"bank/alice": true, "bank/bob": true, "bank/carol": false, "shop/alice": false, "bank/x/alice": false} {
		require.Equal(t, want, g.AllowsName(n), n)
	}
	require.True(t, g.AllowsAnyName([]string{"x", "bank/bob"}))
	require.False(t, g.AllowsAnyName(nil), "an unnamed actor is out of reach of a names-scoped grant")
	require.True(t, AdminGrant().AllowsAnyName(nil))
	require.True(t, AdminGrant().AllowsFactory("Anything"))
	require.False(t, AdminGrant().Scoped())
	require.True(t, g.Scoped())
	require.True(t, g.Allows(Viewer))
	require.True(t, g.Allows(Operator))
	require.False(t, g.Allows(Admin))
	require.False(t, Grant{}.Allows(Viewer), "the zero grant allows nothing")
	for _, s := range []string{"viewer", "operator", "admin"} {
		r, err := ParseRole(s)
		require.NoError(t, err)
		require.Equal(t, s, r.String())
	}
	_, err := ParseRole("root")
	require.ErrorIs(t, err, ErrMalformed)
}

func TestCheckProvesWithoutRevealingTheSecret(t *testing.T) {
	a := authority(t, testCookie)
	tok := mint(t, a, Caveat{Role: Viewer})
	wire := tok.Wire()
	require.NotContains(t, string(wire), string(tok.mac[:]))
	_, err := Parse(Prefix + base64.RawURLEncoding.EncodeToString(wire))
	require.ErrorIs(t, err, ErrMalformed, "the handshake form is not a token")

	msg := []byte("transcript")
	g, err := a.Check(wire, tok.Prove(msg), msg, now)
	require.NoError(t, err)
	require.Equal(t, Viewer, g.Role)
	_, err = a.Check(wire, tok.Prove([]byte("another transcript")), msg, now)
	require.ErrorIs(t, err, ErrInvalid)
	_, err = authority(t, otherCookie).Check(wire, tok.Prove(msg), msg, now)
	require.ErrorIs(t, err, ErrInvalid)
	// A narrowed token's wire with its parent's proof: the secrets differ.
	n, err := tok.Narrow(Caveat{Names: []string{"x"}})
	require.NoError(t, err)
	_, err = a.Check(n.Wire(), tok.Prove(msg), msg, now)
	require.ErrorIs(t, err, ErrInvalid)
	// Nor does a parent's wire pass with a narrowed token's proof.
	_, err = a.Check(wire, n.Prove(msg), msg, now)
	require.ErrorIs(t, err, ErrInvalid)

	sig := a.Sign(msg)
	require.True(t, tok.VerifyNode(msg, sig))
	require.False(t, tok.VerifyNode([]byte("other"), sig))
	require.False(t, tok.VerifyNode(msg, authority(t, otherCookie).Sign(msg)))
	require.False(t, tok.VerifyNode(msg, sig[:10]))
}

func TestDecodeRejects(t *testing.T) {
	a := authority(t, testCookie)
	tok := mint(t, a, Caveat{Role: Viewer})
	enc := func(v any) []byte {
		b, err := cbormode.Deterministic().Marshal(v)
		require.NoError(t, err)
		return b
	}
	withCaveat := func(c []byte) string {
		f := &Token{id: tok.id, key: tok.key, caveats: [][]byte{c}, mac: tok.mac}
		return f.String()
	}
	u8 := func(v uint8) *uint8 { return &v }
	zero := int64(0)
	for name, s := range map[string]string{
		"empty":                 "",
		"no prefix":             strings.TrimPrefix(tok.String(), Prefix),
		"bad base64":            Prefix + "!!!",
		"not CBOR":              Prefix + base64.RawURLEncoding.EncodeToString([]byte{0xff}),
		"too long":              Prefix + strings.Repeat("A", maxTextLen),
		"wrong version":         Prefix + base64.RawURLEncoding.EncodeToString(enc(tokenWire{Version: 2, ID: tok.id[:], Key: tok.key[:], MAC: tok.mac[:]})),
		"short id":              Prefix + base64.RawURLEncoding.EncodeToString(enc(tokenWire{Version: 1, ID: tok.id[:8], Key: tok.key[:], MAC: tok.mac[:]})),
		"short key":             Prefix + base64.RawURLEncoding.EncodeToString(enc(tokenWire{Version: 1, ID: tok.id[:], Key: tok.key[:8], MAC: tok.mac[:]})),
		"short secret":          Prefix + base64.RawURLEncoding.EncodeToString(enc(tokenWire{Version: 1, ID: tok.id[:], Key: tok.key[:], MAC: tok.mac[:8]})),
		"unknown outer key":     Prefix + base64.RawURLEncoding.EncodeToString(enc(map[int]any{1: 1, 2: tok.id[:], 3: tok.key[:], 5: tok.mac[:], 9: 1})),
		"unknown caveat key":    withCaveat(enc(map[int]any{1: 1, 7: "narrows something"})),
		"empty caveat":          withCaveat(enc(map[int]any{})),
		"role zero":             withCaveat(enc(caveatWire{Role: u8(0)})),
		"role unknown":          withCaveat(enc(caveatWire{Role: u8(4)})),
		"empty factory list":    withCaveat(enc(map[int]any{2: []string{}})),
		"empty name pattern":    withCaveat(enc(map[int]any{3: []string{""}})),
		"bad pattern":           withCaveat(enc(map[int]any{3: []string{"bank/["}})),
		"versioned factory":     withCaveat(enc(map[int]any{2: []string{"Account@3f"}})),
		"control char":          withCaveat(enc(map[int]any{3: []string{"a\nb"}})),
		"zero expiry":           withCaveat(enc(caveatWire{Expires: &zero})),
		"caveat not a map":      withCaveat(enc([]int{1})),
		"too many patterns":     withCaveat(enc(map[int]any{2: make([]string, MaxPatterns+1)})),
		"caveat with a tag":     withCaveat([]byte{0xa1, 0x01, 0xc1, 0x01}),
		"duplicate caveat key":  withCaveat([]byte{0xa2, 0x01, 0x01, 0x01, 0x03}),
		"indefinite-length map": withCaveat([]byte{0xbf, 0x01, 0x01, 0xff}),
	} {
		_, err := Parse(s)
		require.ErrorIs(t, err, ErrMalformed, name)
	}

	// Too many caveats, by narrowing and by hand.
	n := tok
	var err error
	for i := 1; i < MaxCaveats; i++ {
		n, err = n.Narrow(Caveat{Role: Viewer})
		require.NoError(t, err)
	}
	_, err = n.Narrow(Caveat{Role: Viewer})
	require.ErrorIs(t, err, ErrMalformed)
	_, err = tok.Narrow(Caveat{})
	require.ErrorIs(t, err, ErrMalformed)
	big := make([]string, MaxPatterns)
	for i := range big {
		big[i] = strings.Repeat("x", MaxPatternLen)
	}
	_, err = tok.Narrow(Caveat{Names: big})
	require.ErrorIs(t, err, ErrMalformed, "a token that would not fit a handshake frame")
}
