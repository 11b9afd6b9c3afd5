package quic

import (
	"bytes"
	"testing"

	"github.com/wasmactor/wasmactor/internal/wire"
	"github.com/wasmactor/wasmactor/token"
)

func validHello() hello {
	return hello{Version: protocolVersion, Role: roleNode, Name: "n1", Incarnation: 42, Addr: "127.0.0.1:7946", Nonce: bytes.Repeat([]byte{7}, nonceLen), MaxFrame: 1 << 20}
}

// FuzzHello: the hello decoder never panics, and what it accepts is valid
// and survives a round trip.
func FuzzHello(f *testing.F) {
	b, _ := wire.Marshal(validHello())
	f.Add(b)
	h := validHello()
	h.Role = roleClient
	h.Addr = ""
	b, _ = wire.Marshal(h)
	f.Add(b)
	h = validHello()
	h.Nonce, h.Expect = nil, "n2"
	b, _ = wire.Marshal(h)
	f.Add(b)
	f.Add([]byte{0xa0})
	f.Add([]byte{0xbf, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := decodeHello(data)
		if err != nil {
			return
		}
		if h.Version != protocolVersion || (len(h.Nonce) != 0 && len(h.Nonce) != nonceLen) || validName(h.Name) != nil ||
			(h.Expect != "" && validName(h.Expect) != nil) || h.Incarnation == 0 || h.MaxFrame < minMaxFrame || h.MaxFrame > maxMaxFrame {
			t.Fatalf("accepted an invalid hello %+v", h)
		}
		enc, err := wire.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		h2, err := decodeHello(enc)
		if err != nil || h2.Name != h.Name || h2.Incarnation != h.Incarnation || !bytes.Equal(h2.Nonce, h.Nonce) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// FuzzChallenge: the challenge decoder never panics and accepts only the
// current version with a 32-byte nonce.
func FuzzChallenge(f *testing.F) {
	b, _ := wire.Marshal(challenge{Version: protocolVersion, Nonce: make([]byte, nonceLen)})
	f.Add(b)
	f.Add([]byte{0xa1, 0x01, 0x02})
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := decodeChallenge(data)
		if err == nil && (c.Version != protocolVersion || len(c.Nonce) != nonceLen) {
			t.Fatalf("accepted an invalid challenge %+v", c)
		}
	})
}

// FuzzProof: the proof decoder never panics and accepts only a 32-byte MAC
// (with a bounded token) or a 64-byte signature alone.
func FuzzProof(f *testing.F) {
	b, _ := wire.Marshal(proof{MAC: make([]byte, macLen)})
	f.Add(b)
	b, _ = wire.Marshal(proof{MAC: make([]byte, macLen), Token: []byte{0xa0}})
	f.Add(b)
	b, _ = wire.Marshal(proof{Sig: make([]byte, 64)})
	f.Add(b)
	f.Add([]byte{0xa1, 0x01, 0x40})
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := decodeProof(data)
		if err != nil {
			return
		}
		mac := len(p.MAC) == macLen && p.Sig == nil && len(p.Token) <= token.MaxWireLen
		sig := len(p.Sig) == 64 && p.MAC == nil && p.Token == nil
		if !mac && !sig {
			t.Fatalf("accepted a MAC of %d bytes, a signature of %d, a token of %d", len(p.MAC), len(p.Sig), len(p.Token))
		}
	})
}

// FuzzControlMessage: the post-handshake control message and the call and
// blob request decoders (all strict CBOR into concrete structs) never
// panic on arbitrary input.
func FuzzControlMessage(f *testing.F) {
	for _, v := range []any{
		ctrlMsg{Type: ctrlCast, Kind: 3, Body: []byte("x")},
		ctrlMsg{Type: ctrlMembers, Members: nil},
		callReq{Kind: 1, Body: []byte("b")},
		blobReq{Key: "k", Max: 10},
		callResp{Failed: true, Code: 3, Message: "m"},
	} {
		b, _ := wire.Marshal(v)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var m ctrlMsg
		_ = wire.Unmarshal(data, &m)
		var c callReq
		_ = wire.Unmarshal(data, &c)
		var r callResp
		_ = wire.Unmarshal(data, &r)
		var b blobReq
		_ = wire.Unmarshal(data, &b)
		var br blobResp
		_ = wire.Unmarshal(data, &br)
	})
}
