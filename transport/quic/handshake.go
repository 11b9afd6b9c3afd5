package quic

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/wasmactor/wasmactor/internal/wire"
	"github.com/wasmactor/wasmactor/transport"
)

// Handshake constants (docs/protocol.md, "Handshake").
const (
	protocolVersion   = 2
	exporterLabel     = "EXPORTER-Channel-Binding"
	exporterLen       = 32
	clientProofLabel  = "wasmactor/2 client proof"
	serverProofLabel  = "wasmactor/2 server proof"
	nonceLen          = 32
	macLen            = sha256.Size
	maxHandshakeFrame = 4096
	maxAddrLen        = 256

	roleNode   uint8 = 0
	roleClient uint8 = 1
)

// hello says who its sender is. The client sends it first; the server
// sends its own only once it has verified the client's proof, so a peer
// without the cookie never learns which node it reached.
type hello struct {
	Version     uint64 `cbor:"1,keyasint"`
	Role        uint8  `cbor:"2,keyasint"`
	Name        string `cbor:"3,keyasint"`
	Incarnation uint64 `cbor:"4,keyasint"`
	Addr        string `cbor:"5,keyasint,omitempty"`
	// Nonce is the client's fresh nonce; the server's is in its challenge.
	Nonce    []byte `cbor:"6,keyasint,omitempty"`
	MaxFrame uint64 `cbor:"7,keyasint"`
	// MaxRequest is the largest call request the sender accepts; absent
	// (zero) means MaxFrame. Clients accept no requests and omit it.
	MaxRequest uint64 `cbor:"8,keyasint,omitempty"`
	// Expect is the node the client means to reach (a redial of a known
	// member); a server of another name turns it down with CodeWrongNode.
	Expect string `cbor:"9,keyasint,omitempty"`
}

// challenge is the server's first message: its nonce, and nothing that
// identifies the node.
type challenge struct {
	Version uint64 `cbor:"1,keyasint"`
	Nonce   []byte `cbor:"6,keyasint"`
}

// proof carries an HMAC over the handshake (see computeProof).
type proof struct {
	MAC []byte `cbor:"1,keyasint"`
}

func (h hello) info() transport.NodeInfo {
	return transport.NodeInfo{Name: h.Name, Incarnation: h.Incarnation, Addr: h.Addr}
}

// errBadHandshake is the cause of every malformed handshake message.
var errBadHandshake = fmt.Errorf("%w: malformed handshake message", transport.ErrHandshake)

func versionError(v uint64) error {
	return fmt.Errorf("%w: protocol version %d, want %d", transport.ErrHandshake, v, protocolVersion)
}

// decodeHello decodes and validates a hello body. The nonce is either
// absent (a server's hello) or exactly nonceLen bytes.
func decodeHello(b []byte) (hello, error) {
	var h hello
	if err := wire.Unmarshal(b, &h); err != nil {
		return hello{}, fmt.Errorf("%w: %v", errBadHandshake, err)
	}
	switch {
	case h.Version != protocolVersion:
		return hello{}, versionError(h.Version)
	case h.Role != roleNode && h.Role != roleClient:
		return hello{}, fmt.Errorf("%w: unknown role %d", errBadHandshake, h.Role)
	case validName(h.Name) != nil:
		return hello{}, fmt.Errorf("%w: bad name", errBadHandshake)
	case h.Expect != "" && validName(h.Expect) != nil:
		return hello{}, fmt.Errorf("%w: bad expected name", errBadHandshake)
	case h.Incarnation == 0:
		return hello{}, fmt.Errorf("%w: zero incarnation", errBadHandshake)
	case len(h.Addr) > maxAddrLen:
		return hello{}, fmt.Errorf("%w: address too long", errBadHandshake)
	case len(h.Nonce) != 0 && len(h.Nonce) != nonceLen:
		return hello{}, fmt.Errorf("%w: nonce of %d bytes", errBadHandshake, len(h.Nonce))
	case h.MaxFrame < minMaxFrame:
		return hello{}, fmt.Errorf("%w: max frame %d", errBadHandshake, h.MaxFrame)
	}
	if h.MaxFrame > maxMaxFrame {
		h.MaxFrame = maxMaxFrame
	}
	h.MaxRequest = min(max(h.MaxRequest, h.MaxFrame), maxMaxRequest)
	return h, nil
}

// decodeChallenge decodes and validates a challenge body.
func decodeChallenge(b []byte) (challenge, error) {
	var c challenge
	if err := wire.Unmarshal(b, &c); err != nil {
		return challenge{}, fmt.Errorf("%w: %v", errBadHandshake, err)
	}
	if c.Version != protocolVersion {
		return challenge{}, versionError(c.Version)
	}
	if len(c.Nonce) != nonceLen {
		return challenge{}, fmt.Errorf("%w: nonce of %d bytes", errBadHandshake, len(c.Nonce))
	}
	return c, nil
}

// decodeProof decodes a proof body.
func decodeProof(b []byte) (proof, error) {
	var p proof
	if err := wire.Unmarshal(b, &p); err != nil {
		return proof{}, fmt.Errorf("%w: %v", errBadHandshake, err)
	}
	if len(p.MAC) != macLen {
		return proof{}, fmt.Errorf("%w: proof of %d bytes", errBadHandshake, len(p.MAC))
	}
	return p, nil
}

// computeProof is HMAC-SHA256 keyed by the cookie over the role label, the
// TLS exporter value of this connection (channel binding) and the
// transcript so far (each message body exactly as sent, with a 4-byte
// big-endian length). The label stops a proof from being reflected to its
// author; the exporter value stops it from being relayed onto another TLS
// session; the nonces in the transcript stop it from being replayed later.
func computeProof(cookie []byte, label string, ekm []byte, transcript ...[]byte) []byte {
	m := hmac.New(sha256.New, cookie)
	io.WriteString(m, label)
	m.Write([]byte{0})
	var l [4]byte
	for _, part := range append([][]byte{ekm}, transcript...) {
		binary.BigEndian.PutUint32(l[:], uint32(len(part)))
		m.Write(l[:])
		m.Write(part)
	}
	return m.Sum(nil)
}

// handshaker runs the cookie handshake on the control stream of one
// connection. It is used by exactly one goroutine.
type handshaker struct {
	cookie []byte
	self   hello
	rw     io.Writer
	r      *wire.Reader
	ekm    []byte

	// The transcript, message bodies as sent; set by the run methods.
	clientHello, challenge, serverHello []byte
}

func newHandshaker(cookie []byte, self hello, rw io.ReadWriter, ekm []byte) *handshaker {
	return &handshaker{cookie: cookie, self: self, rw: rw, r: wire.NewReader(rw, maxHandshakeFrame, 512), ekm: ekm}
}

func newNonce() []byte {
	n := make([]byte, nonceLen)
	if _, err := rand.Read(n); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return n
}

// send encodes v as one frame and writes it; it returns the body.
func (h *handshaker) send(v any) ([]byte, error) {
	body, err := wire.Marshal(v)
	if err != nil {
		return nil, err
	}
	_, err = h.rw.Write(wire.AppendFrame(nil, body))
	return body, err
}

func (h *handshaker) recv() ([]byte, error) {
	b, err := h.r.Next()
	if err != nil {
		if errors.Is(err, transport.ErrFrameTooLarge) {
			return nil, fmt.Errorf("%w: %w", errBadHandshake, err)
		}
		return nil, err
	}
	return b, nil
}

// recvProof reads a proof and checks it against the transcript.
func (h *handshaker) recvProof(label string, transcript ...[]byte) error {
	b, err := h.recv()
	if err != nil {
		return err
	}
	p, err := decodeProof(b)
	if err != nil {
		return err
	}
	if !hmac.Equal(p.MAC, computeProof(h.cookie, label, h.ekm, transcript...)) {
		return fmt.Errorf("%w: the peer's proof is wrong (wrong cookie, or a relayed or reflected proof)", transport.ErrHandshake)
	}
	return nil
}

// client runs the dialling side: hello, read the server's challenge, prove,
// then read the server's hello and proof, verify the proof over the raw
// hello before decoding it, and let check veto the peer.
func (h *handshaker) client(check func(hello) error) (hello, error) {
	h.self.Nonce = newNonce()
	var err error
	if h.clientHello, err = h.send(h.self); err != nil {
		return hello{}, err
	}
	if h.challenge, err = h.recv(); err != nil {
		return hello{}, err
	}
	if _, err := decodeChallenge(h.challenge); err != nil {
		return hello{}, err
	}
	if _, err := h.send(proof{MAC: computeProof(h.cookie, clientProofLabel, h.ekm, h.clientHello, h.challenge)}); err != nil {
		return hello{}, err
	}
	if h.serverHello, err = h.recv(); err != nil {
		return hello{}, err
	}
	if err := h.recvProof(serverProofLabel, h.clientHello, h.challenge, h.serverHello); err != nil {
		return hello{}, err
	}
	peer, err := decodeHello(h.serverHello)
	if err != nil {
		return hello{}, err
	}
	if peer.Role != roleNode {
		return hello{}, fmt.Errorf("%w: the server is not a node", errBadHandshake)
	}
	if check != nil {
		if err := check(peer); err != nil {
			return hello{}, err
		}
	}
	return peer, nil
}

// server runs the accepting side: read the client's hello, challenge it,
// verify its proof, and only then decode the hello, let admit decide (the
// peer is now authenticated) and answer with this node's hello and proof.
// Before the client's proof is verified the server sends nothing but a
// nonce.
func (h *handshaker) server(admit func(hello) error) (hello, error) {
	var err error
	if h.clientHello, err = h.recv(); err != nil {
		return hello{}, err
	}
	if h.challenge, err = h.send(challenge{Version: protocolVersion, Nonce: newNonce()}); err != nil {
		return hello{}, err
	}
	if err := h.recvProof(clientProofLabel, h.clientHello, h.challenge); err != nil {
		return hello{}, err
	}
	peer, err := decodeHello(h.clientHello)
	if err != nil {
		return hello{}, err
	}
	if len(peer.Nonce) != nonceLen {
		return hello{}, fmt.Errorf("%w: client hello without a nonce", errBadHandshake)
	}
	if admit != nil {
		if err := admit(peer); err != nil {
			return peer, err
		}
	}
	// This node's hello and its proof over it, in one write.
	self := h.self
	self.Nonce = nil
	if h.serverHello, err = wire.Marshal(self); err != nil {
		return peer, err
	}
	p, err := wire.Marshal(proof{MAC: computeProof(h.cookie, serverProofLabel, h.ekm, h.clientHello, h.challenge, h.serverHello)})
	if err != nil {
		return peer, err
	}
	_, err = h.rw.Write(wire.AppendFrame(wire.AppendFrame(nil, h.serverHello), p))
	return peer, err
}
