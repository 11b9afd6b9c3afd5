package quic

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/wasmactor/wasmactor/internal/wire"
	"github.com/wasmactor/wasmactor/token"
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

// Labels of a client that proves a token instead of the cookie, and of the
// node's answer to it (docs/protocol.md, "Token clients").
const (
	tokenProofLabel  = "wasmactor/2 token client proof"
	tokenAnswerLabel = "wasmactor/2 token server proof"
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
	// MaxRequest is the largest call request the sender accepts from the
	// receiver (a server tells a client its MaxClientRequest); absent
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

// proof carries an HMAC over the handshake (see computeProof), or, from a
// node to a token client, a signature.
type proof struct {
	MAC []byte `cbor:"1,keyasint,omitempty"`
	// Token is a client's token without its secret (ClientProof only):
	// MAC is then keyed by the token's secret instead of the cookie.
	Token []byte `cbor:"2,keyasint,omitempty"`
	// Sig is the node's Ed25519 signature (ServerProof to a token client,
	// in place of MAC).
	Sig []byte `cbor:"3,keyasint,omitempty"`
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

// decodeProof decodes a proof body: a 32-byte MAC, with a token only if
// it is a client's, or else a signature alone.
func decodeProof(b []byte) (proof, error) {
	var p proof
	if err := wire.Unmarshal(b, &p); err != nil {
		return proof{}, fmt.Errorf("%w: %v", errBadHandshake, err)
	}
	switch {
	case p.Sig != nil:
		if len(p.Sig) != ed25519.SignatureSize || p.MAC != nil || p.Token != nil {
			return proof{}, fmt.Errorf("%w: signature of %d bytes", errBadHandshake, len(p.Sig))
		}
	case len(p.MAC) != macLen:
		return proof{}, fmt.Errorf("%w: proof of %d bytes", errBadHandshake, len(p.MAC))
	case p.Token != nil && (len(p.Token) == 0 || len(p.Token) > token.MaxWireLen):
		return proof{}, fmt.Errorf("%w: token of %d bytes", errBadHandshake, len(p.Token))
	}
	return p, nil
}

// transcript is what a proof covers: the role label, the TLS exporter value
// of this connection (channel binding) and the messages so far (each body
// exactly as sent, with a 4-byte big-endian length). The label stops a
// proof from being reflected to its author; the exporter value stops it
// from being relayed onto another TLS session; the nonces in the messages
// stop it from being replayed later.
func transcript(label string, ekm []byte, msgs ...[]byte) []byte {
	b := append([]byte(label), 0)
	for _, part := range append([][]byte{ekm}, msgs...) {
		b = binary.BigEndian.AppendUint32(b, uint32(len(part)))
		b = append(b, part...)
	}
	return b
}

// computeProof is HMAC-SHA256 keyed by the cookie over the transcript.
func computeProof(cookie []byte, label string, ekm []byte, msgs ...[]byte) []byte {
	m := hmac.New(sha256.New, cookie)
	m.Write(transcript(label, ekm, msgs...))
	return m.Sum(nil)
}

// handshaker runs the cookie handshake on the control stream of one
// connection. It is used by exactly one goroutine.
type handshaker struct {
	cookie []byte
	self   hello
	// clientRequest, when not zero, is the request cap announced to a
	// client (a server's Config.MaxClientRequest) instead of self's.
	clientRequest uint64
	rw            io.Writer
	r             *wire.Reader
	ekm           []byte
	// auth (a server's) verifies token clients and signs its answers to
	// them; tok (a client's) is proved instead of the cookie.
	auth *token.Authority
	tok  *token.Token

	// The transcript, message bodies as sent; set by the run methods.
	clientHello, challenge, clientProof, serverHello []byte
	// grant is what the client proved (server side): the cookie's or its
	// token's.
	grant token.Grant
}

func newHandshaker(cookie []byte, self hello, rw io.ReadWriter, ekm []byte) *handshaker {
	return &handshaker{cookie: cookie, self: self, rw: rw, r: wire.NewReader(rw, maxHandshakeFrame, 512), ekm: ekm}
}

// errWrongProof: a proof that does not verify, whatever the reason.
var errWrongProof = fmt.Errorf("%w: the peer's proof is wrong (wrong cookie, or a relayed or reflected proof)", transport.ErrHandshake)

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

// recvProof reads a proof.
func (h *handshaker) recvProof() (proof, []byte, error) {
	b, err := h.recv()
	if err != nil {
		return proof{}, nil, err
	}
	p, err := decodeProof(b)
	return p, b, err
}

// myProof is the client's proof: keyed by the cookie, or by its token's
// secret (the token travels without it).
func (h *handshaker) myProof() proof {
	if h.tok != nil {
		return proof{MAC: h.tok.Prove(transcript(tokenProofLabel, h.ekm, h.clientHello, h.challenge)), Token: h.tok.Wire()}
	}
	return proof{MAC: computeProof(h.cookie, clientProofLabel, h.ekm, h.clientHello, h.challenge)}
}

// checkServerProof verifies the server's proof over the raw ServerHello:
// a cookie MAC, or for a token client the cluster's signature.
func (h *handshaker) checkServerProof(p proof) error {
	if h.tok != nil {
		if p.Sig == nil || !h.tok.VerifyNode(transcript(tokenAnswerLabel, h.ekm, h.clientHello, h.challenge, h.clientProof, h.serverHello), p.Sig) {
			return fmt.Errorf("%w: the node's signature is wrong (not a node of the cluster that minted the token)", transport.ErrHandshake)
		}
		return nil
	}
	if p.MAC == nil || !hmac.Equal(p.MAC, computeProof(h.cookie, serverProofLabel, h.ekm, h.clientHello, h.challenge, h.serverHello)) {
		return errWrongProof
	}
	return nil
}

// checkClientProof verifies the client's proof and sets h.grant.
func (h *handshaker) checkClientProof(p proof, now time.Time) error {
	if p.MAC == nil {
		return errWrongProof
	}
	if p.Token == nil {
		if !hmac.Equal(p.MAC, computeProof(h.cookie, clientProofLabel, h.ekm, h.clientHello, h.challenge)) {
			return errWrongProof
		}
		h.grant = token.AdminGrant()
		return nil
	}
	if h.auth == nil {
		return fmt.Errorf("%w: tokens are not accepted here", transport.ErrHandshake)
	}
	g, err := h.auth.Check(p.Token, p.MAC, transcript(tokenProofLabel, h.ekm, h.clientHello, h.challenge), now)
	if err != nil {
		return fmt.Errorf("%w: %w", transport.ErrHandshake, err)
	}
	h.grant = g
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
	if h.clientProof, err = h.send(h.myProof()); err != nil {
		return hello{}, err
	}
	if h.serverHello, err = h.recv(); err != nil {
		return hello{}, err
	}
	p, _, err := h.recvProof()
	if err != nil {
		return hello{}, err
	}
	if err := h.checkServerProof(p); err != nil {
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
// verify its proof (the cookie's, or a client's token), and only then
// decode the hello, let admit decide (the peer is now authenticated) and
// answer with this node's hello and proof. Before the client's proof is
// verified the server sends nothing but a nonce.
func (h *handshaker) server(admit func(hello) error) (hello, error) {
	var err error
	if h.clientHello, err = h.recv(); err != nil {
		return hello{}, err
	}
	if h.challenge, err = h.send(challenge{Version: protocolVersion, Nonce: newNonce()}); err != nil {
		return hello{}, err
	}
	p, cp, err := h.recvProof()
	if err != nil {
		return hello{}, err
	}
	if err := h.checkClientProof(p, time.Now()); err != nil {
		return hello{}, err
	}
	h.clientProof = cp
	peer, err := decodeHello(h.clientHello)
	if err != nil {
		return hello{}, err
	}
	if len(peer.Nonce) != nonceLen {
		return hello{}, fmt.Errorf("%w: client hello without a nonce", errBadHandshake)
	}
	if p.Token != nil && peer.Role != roleClient {
		return hello{}, fmt.Errorf("%w: a node proved a token; nodes prove the cookie", errBadHandshake)
	}
	if admit != nil {
		if err := admit(peer); err != nil {
			return peer, err
		}
	}
	// This node's hello and its proof over it, in one write.
	self := h.self
	self.Nonce = nil
	if peer.Role == roleClient && h.clientRequest != 0 {
		self.MaxRequest = h.clientRequest
	}
	if h.serverHello, err = wire.Marshal(self); err != nil {
		return peer, err
	}
	answer := proof{MAC: computeProof(h.cookie, serverProofLabel, h.ekm, h.clientHello, h.challenge, h.serverHello)}
	if p.Token != nil {
		answer = proof{Sig: h.auth.Sign(transcript(tokenAnswerLabel, h.ekm, h.clientHello, h.challenge, h.clientProof, h.serverHello))}
	}
	ab, err := wire.Marshal(answer)
	if err != nil {
		return peer, err
	}
	_, err = h.rw.Write(wire.AppendFrame(wire.AppendFrame(nil, h.serverHello), ab))
	return peer, err
}
