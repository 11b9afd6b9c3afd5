package token

import (
	"testing"
	"time"
)

// FuzzParse: the token decoder never panics; what it accepts encodes back
// to the same token, its claims are within what its caveats allow, and only
// tokens the cluster minted verify.
func FuzzParse(f *testing.F) {
	a := authority(f, testCookie)
	// Fixed ids: every fuzzing process must mint the same seeds.
	seed := func(id byte, cs ...Caveat) string {
		tok, err := a.mint([idLen]byte{id}, cs)
		if err != nil {
			f.Fatal(err)
		}
		return tok.String()
	}
	seeds := map[string]bool{
		seed(1, Caveat{Role: Operator}, Caveat{Factories: []string{"Account"}, Names: []string{"bank/*"}}, Caveat{Expires: now.Add(time.Hour)}): true,
		seed(2, Caveat{Role: Viewer}): true,
	}
	for s := range seeds {
		f.Add(s)
	}
	f.Add(Prefix)
	f.Add(Prefix + "oQEB")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse(s)
		if err != nil {
			return
		}
		again, err := Parse(p.String())
		if err != nil || again.String() != p.String() {
			t.Fatalf("round trip: %v", err)
		}
		if c := p.Claims(); c.Role < Viewer || c.Role > Admin {
			t.Fatalf("claims role %d", c.Role)
		}
		// Only the minted tokens verify, however their CBOR is laid out.
		if g, err := a.Verify(p, now); err == nil && !seeds[p.String()] {
			t.Fatalf("a token the fuzzer made verified: %v", g)
		}
	})
}

// FuzzCheck: the handshake form of a token, as a node reads it before the
// client is authenticated, never panics and never passes with a proof the
// fuzzer made up.
func FuzzCheck(f *testing.F) {
	a := authority(f, testCookie)
	tok := mint(f, a, Caveat{Role: Operator}, Caveat{Names: []string{"bank/*"}})
	f.Add(tok.Wire(), []byte("proof"))
	f.Add([]byte{0xa0}, []byte{})
	msg := []byte("transcript")
	f.Fuzz(func(t *testing.T, wire, proof []byte) {
		if _, err := a.Check(wire, proof, msg, now); err == nil {
			t.Fatalf("a made-up proof passed")
		}
	})
}
