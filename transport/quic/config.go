package quic

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/token"
)

// Defaults of [Config] and [ClientConfig] fields left zero.
const (
	DefaultListen            = "127.0.0.1:7946"
	DefaultIdleTimeout       = 5 * time.Second
	DefaultHandshakeTimeout  = 5 * time.Second
	DefaultLanes             = 4
	DefaultSendQueue         = 1 << 16
	DefaultSendQueueBytes    = 64 << 20
	DefaultControlQueue      = 1 << 12
	DefaultControlQueueBytes = 8 << 20
	DefaultMaxFrame          = 1 << 20
	DefaultMaxRequest        = 16 << 20
	DefaultMaxStreams        = 256
	DefaultReconnectMin      = 100 * time.Millisecond
	DefaultReconnectMax      = 5 * time.Second
	DefaultReconnectFor      = 10 * time.Minute
	DefaultFailureBurst      = 10
	DefaultFailureRefill     = time.Second
	DefaultUnauthenticated   = 64
	DefaultUnauthPerIP       = 8
	DefaultMaxMembers        = 1024

	// MinCookieLen is the shortest cookie accepted, in bytes: 128 bits if
	// they are raw random bytes (generated cookies are 256 bits as hex).
	MinCookieLen = 16
	// MaxLanes bounds Config.Lanes (and the lanes a peer may open).
	MaxLanes = 64
	// minMaxFrame keeps room for handshake-sized and control messages.
	minMaxFrame   = 4096
	maxMaxFrame   = 64 << 20
	maxMaxRequest = 256 << 20
	maxNameLen    = 128
	// The send queue's envelopes and bytes share one counter (see
	// session.queued).
	maxSendQueue      = 1<<23 - 1
	maxSendQueueBytes = 1<<queuedShift - 1
)

// Config configures a node [Transport]. The zero value of every field means
// its documented default. [New] validates a private copy and never modifies
// the caller's value.
type Config struct {
	// Name is the node's name, unique in the cluster. Required: 1 to 128
	// printable ASCII characters other than space, '<' and '>'.
	Name string
	// Incarnation identifies this run of the node; 0 picks a random non-zero
	// value.
	Incarnation uint64
	// Listen is the UDP address to bind. Default "127.0.0.1:7946"; tests use
	// "127.0.0.1:0". The same socket dials peers, so a node bound to a
	// loopback address reaches only loopback peers.
	Listen string
	// Advertise is the address peers are told to dial. Default: the bound
	// address (which must then not be an unspecified IP such as 0.0.0.0).
	Advertise string
	// Cookie is the cluster secret, at least 16 bytes (see
	// [LoadOrCreateCookie]). Required. It is copied; it is never logged.
	Cookie []byte

	// TLS, if set, is the base TLS configuration (cloned): it must hold a
	// certificate, and its verification settings are used as given. For
	// mutual TLS from files use CertFile, KeyFile and CAFile instead. With
	// neither, each node uses an ephemeral self-signed certificate and peers
	// are authenticated by the cookie proof alone (see docs/protocol.md).
	TLS *tls.Config
	// CertFile and KeyFile (PEM) are this node's certificate, CAFile (PEM)
	// the CA peers' certificates must chain to. Set all three or none.
	CertFile, KeyFile, CAFile string

	// IdleTimeout: a peer not heard from within it is reported down. Default 5s.
	IdleTimeout time.Duration
	// KeepAlive is how often an idle connection is pinged. Default
	// IdleTimeout/4, so three keep-alives can be lost before a timeout.
	KeepAlive time.Duration
	// HandshakeTimeout bounds a connection attempt: QUIC, TLS and the cookie
	// handshake. Default 5s.
	HandshakeTimeout time.Duration

	// Lanes is the number of long-lived message streams per direction per
	// peer. Default 4, at most 64.
	Lanes int
	// SendQueue bounds the envelopes queued for one peer; Send fails with
	// ErrQueueFull beyond it. Default 65536; at most 8,388,607.
	SendQueue int
	// SendQueueBytes bounds the bytes of the envelopes queued for one peer
	// (their payloads, plus 64 bytes each for the rest), so that large
	// messages cannot take the count's worth of memory; Send fails with
	// ErrQueueFull beyond it (a batch larger than the bound is queued only
	// alone). Default 64 MiB.
	SendQueueBytes int
	// ControlQueue bounds the casts queued for one peer; Cast fails with
	// ErrQueueFull beyond it. Default 4096.
	ControlQueue int
	// ControlQueueBytes bounds the encoded size of the casts queued for one
	// peer, so a flood of large casts cannot take unbounded memory; Cast
	// fails with ErrQueueFull beyond it (a cast larger than the bound is
	// queued only alone). Default 8 MiB.
	ControlQueueBytes int
	// MaxFrame caps every frame this node accepts (and tells peers, who
	// split their batches to fit). Default 1 MiB; 4 KiB to 64 MiB.
	MaxFrame int
	// MaxRequest caps the body of a call request this node accepts from
	// a node (a migrating actor's snapshot travels in one; a client's are
	// capped by MaxClientRequest). Default 16 MiB; at least
	// MaxFrame, at most 256 MiB. It is announced in the hello, and callers
	// refuse larger requests locally.
	MaxRequest int
	// MaxClientRequest caps the body of a call request from a client (the
	// CLI), announced to clients in the hello in place of MaxRequest:
	// whatever their token, they make the node read this much before it
	// checks what they may ask. Default MaxFrame + 64 KiB; at least
	// MaxFrame, at most MaxRequest.
	MaxClientRequest int
	// MaxStreams bounds the concurrent calls and blob transfers one peer may
	// have open to this node. Default 256.
	MaxStreams int

	// ReconnectMin and ReconnectMax bound the exponential backoff (with
	// jitter) between attempts to redial a lost member. Defaults 100ms and 5s.
	ReconnectMin, ReconnectMax time.Duration
	// ReconnectFor is how long a lost member is redialled before it is
	// forgotten. Default 10 minutes. A node named by a peer's member list
	// that never completed a handshake is forgotten sooner, after four
	// failed dials.
	ReconnectFor time.Duration
	// MaxMembers bounds the other nodes this node keeps track of:
	// connected, being redialled, or named by a peer and not yet verified.
	// Entries of a member list beyond it are ignored. Default 1024.
	MaxMembers int

	// FailedHandshakeBurst and FailedHandshakeRefill rate-limit failed
	// handshakes per source IP: each failure takes a token from a bucket of
	// FailedHandshakeBurst tokens refilled one per FailedHandshakeRefill;
	// an address with an empty bucket is refused before TLS. Defaults 10 and 1s.
	FailedHandshakeBurst  int
	FailedHandshakeRefill time.Duration

	// MaxUnauthenticated bounds the accepted connections that have not yet
	// proved the cookie, in all; MaxUnauthenticatedPerIP bounds them per
	// source IP. A connection attempt beyond either is refused before TLS
	// (or, if the bound was reached during its QUIC handshake, closed with
	// CodeBusy); it is not counted as a failed handshake. Each such
	// connection costs at most one stream and a 64 KiB receive window until
	// its proof is verified. Defaults 64 and 8.
	MaxUnauthenticated      int
	MaxUnauthenticatedPerIP int

	// StatelessResetKey lets a restarted node tell peers at once that their
	// old connection is gone. Default: HMAC-SHA256(Cookie,
	// "wasmactor stateless reset" || Name), stable across restarts.
	StatelessResetKey *[32]byte

	// Logger receives connection events (never the cookie). Default: discard.
	Logger *slog.Logger
}

// config is the validated, filled copy of a Config.
type config struct {
	Config
	// auth, derived from the cookie, verifies token clients.
	auth *token.Authority
}

func (c Config) validate() (config, error) {
	bad := func(format string, args ...any) (config, error) {
		return config{}, fmt.Errorf("%w: transport/quic: "+format, append([]any{wasmactor.ErrBadArgument}, args...)...)
	}
	if err := validName(c.Name); err != nil {
		return bad("name: %v", err)
	}
	if len(c.Cookie) < MinCookieLen {
		return bad("cookie must be at least %d bytes, got %d", MinCookieLen, len(c.Cookie))
	}
	c.Cookie = append([]byte(nil), c.Cookie...)
	auth, err := token.NewAuthority(c.Cookie)
	if err != nil {
		return bad("%v", err)
	}
	if c.Incarnation == 0 {
		c.Incarnation = randomIncarnation()
	}
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if (c.CertFile != "" || c.KeyFile != "" || c.CAFile != "") && (c.CertFile == "" || c.KeyFile == "" || c.CAFile == "") {
		return bad("CertFile, KeyFile and CAFile must be set together")
	}
	if c.TLS != nil && c.CertFile != "" {
		return bad("set TLS or the certificate files, not both")
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.KeepAlive == 0 {
		c.KeepAlive = c.IdleTimeout / 4
	}
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if c.IdleTimeout < 0 || c.KeepAlive < 0 || c.HandshakeTimeout < 0 {
		return bad("timeouts must not be negative")
	}
	if c.KeepAlive >= c.IdleTimeout {
		return bad("KeepAlive (%v) must be shorter than IdleTimeout (%v)", c.KeepAlive, c.IdleTimeout)
	}
	if c.Lanes == 0 {
		c.Lanes = DefaultLanes
	}
	if c.Lanes < 1 || c.Lanes > MaxLanes {
		return bad("Lanes must be 1..%d, got %d", MaxLanes, c.Lanes)
	}
	if c.SendQueue == 0 {
		c.SendQueue = DefaultSendQueue
	}
	if c.SendQueueBytes == 0 {
		c.SendQueueBytes = DefaultSendQueueBytes
	}
	if c.SendQueue > maxSendQueue || c.SendQueueBytes > maxSendQueueBytes {
		return bad("SendQueue must be at most %d and SendQueueBytes at most %d", maxSendQueue, maxSendQueueBytes)
	}
	if c.ControlQueue == 0 {
		c.ControlQueue = DefaultControlQueue
	}
	if c.ControlQueueBytes == 0 {
		c.ControlQueueBytes = DefaultControlQueueBytes
	}
	if c.SendQueue < 1 || c.SendQueueBytes < 1 || c.ControlQueue < 1 || c.ControlQueueBytes < 1 {
		return bad("queue sizes must be positive")
	}
	if c.MaxFrame == 0 {
		c.MaxFrame = DefaultMaxFrame
	}
	if c.MaxFrame < minMaxFrame || c.MaxFrame > maxMaxFrame {
		return bad("MaxFrame must be %d..%d, got %d", minMaxFrame, maxMaxFrame, c.MaxFrame)
	}
	if c.MaxRequest == 0 {
		c.MaxRequest = max(DefaultMaxRequest, c.MaxFrame)
	}
	if c.MaxRequest < c.MaxFrame || c.MaxRequest > maxMaxRequest {
		return bad("MaxRequest must be MaxFrame (%d) to %d, got %d", c.MaxFrame, maxMaxRequest, c.MaxRequest)
	}
	if c.MaxClientRequest == 0 {
		c.MaxClientRequest = min(c.MaxFrame+64<<10, c.MaxRequest)
	}
	if c.MaxClientRequest < c.MaxFrame || c.MaxClientRequest > c.MaxRequest {
		return bad("MaxClientRequest must be MaxFrame (%d) to MaxRequest (%d), got %d", c.MaxFrame, c.MaxRequest, c.MaxClientRequest)
	}
	if c.MaxStreams == 0 {
		c.MaxStreams = DefaultMaxStreams
	}
	if c.MaxStreams < 1 {
		return bad("MaxStreams must be positive")
	}
	if c.ReconnectMin == 0 {
		c.ReconnectMin = DefaultReconnectMin
	}
	if c.ReconnectMax == 0 {
		c.ReconnectMax = DefaultReconnectMax
	}
	if c.ReconnectFor == 0 {
		c.ReconnectFor = DefaultReconnectFor
	}
	if c.ReconnectMin < 0 || c.ReconnectMax < c.ReconnectMin || c.ReconnectFor < 0 {
		return bad("need 0 < ReconnectMin <= ReconnectMax and ReconnectFor >= 0")
	}
	if c.MaxMembers == 0 {
		c.MaxMembers = DefaultMaxMembers
	}
	if c.MaxMembers < 1 {
		return bad("MaxMembers must be positive")
	}
	if c.FailedHandshakeBurst == 0 {
		c.FailedHandshakeBurst = DefaultFailureBurst
	}
	if c.FailedHandshakeRefill == 0 {
		c.FailedHandshakeRefill = DefaultFailureRefill
	}
	if c.FailedHandshakeBurst < 1 || c.FailedHandshakeRefill < 0 {
		return bad("FailedHandshakeBurst must be positive")
	}
	if c.MaxUnauthenticated == 0 {
		c.MaxUnauthenticated = DefaultUnauthenticated
	}
	if c.MaxUnauthenticatedPerIP == 0 {
		c.MaxUnauthenticatedPerIP = min(DefaultUnauthPerIP, c.MaxUnauthenticated)
	}
	if c.MaxUnauthenticated < 1 || c.MaxUnauthenticatedPerIP < 1 || c.MaxUnauthenticatedPerIP > c.MaxUnauthenticated {
		return bad("need 1 <= MaxUnauthenticatedPerIP <= MaxUnauthenticated")
	}
	if c.StatelessResetKey == nil {
		k := deriveResetKey(c.Cookie, c.Name)
		c.StatelessResetKey = &k
	} else {
		k := *c.StatelessResetKey
		c.StatelessResetKey = &k
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return config{Config: c, auth: auth}, nil
}

func validName(name string) error {
	if name == "" || len(name) > maxNameLen {
		return fmt.Errorf("must be 1 to %d bytes, got %d", maxNameLen, len(name))
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c <= ' ' || c >= 0x7f || c == '<' || c == '>' {
			return fmt.Errorf("%q holds a space, control, non-ASCII, '<' or '>' character", name)
		}
	}
	return nil
}

// deriveResetKey makes the stateless reset key a function of the cluster
// secret and the node name, so a node restarted under the same name can
// reset connections its previous incarnation held, and nobody without the
// cookie can forge resets.
func deriveResetKey(cookie []byte, name string) [32]byte {
	m := hmac.New(sha256.New, cookie)
	io.WriteString(m, "wasmactor stateless reset\x00")
	io.WriteString(m, name)
	var k [32]byte
	copy(k[:], m.Sum(nil))
	return k
}

func randomIncarnation() uint64 {
	var b [8]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			panic("crypto/rand failed: " + err.Error())
		}
		if v := binary.LittleEndian.Uint64(b[:]); v != 0 {
			return v
		}
	}
}

// ClientConfig configures [Dial], the connection of a non-member (the CLI)
// to one node. Zero fields mean their defaults.
type ClientConfig struct {
	// Name tells the node who is calling (for its logs). Default "client".
	Name string
	// Cookie is the cluster secret, at least 16 bytes: the client may do
	// anything (role admin). Set Cookie or Token.
	Cookie []byte
	// Token (package token's text) is proved instead of the cookie: the
	// client may do what the token allows. Its secret never crosses the
	// wire, and the node must prove it holds the cookie the token was
	// minted from (docs/protocol.md, "Token clients").
	Token string
	// TLS, or CertFile, KeyFile and CAFile, as in [Config].
	TLS                       *tls.Config
	CertFile, KeyFile, CAFile string
	// Timeout bounds connecting and the handshake. Default 5s.
	Timeout time.Duration
	// IdleTimeout closes the connection when the node is silent that long
	// (keep-alives run meanwhile). Default 5s.
	IdleTimeout time.Duration
	// MaxFrame caps replies. Default 1 MiB.
	MaxFrame int
	// Logger. Default: discard.
	Logger *slog.Logger
}

// clientConfig is the validated, filled copy of a ClientConfig.
type clientConfig struct {
	ClientConfig
	tok *token.Token // parsed Token, if set
}

func (c ClientConfig) validate() (clientConfig, error) {
	bad := func(format string, args ...any) (clientConfig, error) {
		return clientConfig{}, fmt.Errorf("%w: transport/quic: "+format, append([]any{wasmactor.ErrBadArgument}, args...)...)
	}
	if c.Name == "" {
		c.Name = "client"
	}
	if err := validName(c.Name); err != nil {
		return bad("name: %v", err)
	}
	var tok *token.Token
	switch {
	case c.Token != "" && len(c.Cookie) > 0:
		return bad("set Cookie or Token, not both")
	case c.Token != "":
		var err error
		if tok, err = token.Parse(c.Token); err != nil {
			return clientConfig{}, err
		}
	case len(c.Cookie) < MinCookieLen:
		return bad("cookie must be at least %d bytes, got %d", MinCookieLen, len(c.Cookie))
	}
	c.Cookie = append([]byte(nil), c.Cookie...)
	if (c.CertFile != "" || c.KeyFile != "" || c.CAFile != "") && (c.CertFile == "" || c.KeyFile == "" || c.CAFile == "") {
		return bad("CertFile, KeyFile and CAFile must be set together")
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultHandshakeTimeout
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.Timeout < 0 || c.IdleTimeout < 0 {
		return bad("timeouts must not be negative")
	}
	if c.MaxFrame == 0 {
		c.MaxFrame = DefaultMaxFrame
	}
	if c.MaxFrame < minMaxFrame || c.MaxFrame > maxMaxFrame {
		return bad("MaxFrame must be %d..%d, got %d", minMaxFrame, maxMaxFrame, c.MaxFrame)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return clientConfig{ClientConfig: c, tok: tok}, nil
}

// resolveUDP resolves addr for dialling.
func resolveUDP(addr string) (*net.UDPAddr, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("%w: resolve %q: %v", wasmactor.ErrBadArgument, addr, err)
	}
	if ua.Port == 0 {
		return nil, fmt.Errorf("%w: address %q has no port", wasmactor.ErrBadArgument, addr)
	}
	return ua, nil
}

var errNoCert = errors.New("transport/quic: TLS config holds no certificate")
