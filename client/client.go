package client

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/abi"
	"github.com/wasmactor/wasmactor/internal/proto"
	"github.com/wasmactor/wasmactor/registry"
	"github.com/wasmactor/wasmactor/transport"
	"github.com/wasmactor/wasmactor/transport/quic"
)

// Defaults of [Options] fields left zero.
const (
	DefaultDialTimeout = 5 * time.Second
	// DefaultMaxReply caps one reply from the node. Listings of a large
	// cluster are far bigger than a message, so a client allows more than a
	// node's 1 MiB message frames; the node's own caps still bound what it
	// sends.
	DefaultMaxReply = 64 << 20
	// DefaultName is how the client introduces itself in the node's log.
	DefaultName = "wasmactor-client"
)

// Environment variables read by [Dial] and [DefaultCookieFile].
const (
	EnvCookieFile = "WASMACTOR_COOKIE_FILE"
	// EnvToken holds a token (package token) that a Dial with no
	// credentials in its Options proves instead of the cookie.
	EnvToken = "WASMACTOR_TOKEN"
)

// PID is re-exported so users of the client need only this package.
type PID = wasmactor.PID

// ModuleInfo describes a deployed module: its hash, size and factories.
type ModuleInfo = registry.ModuleInfo

// NodeInfo identifies the node a client is connected to.
type NodeInfo = transport.NodeInfo

// Options configure [Dial]. The zero value proves the token in
// $WASMACTOR_TOKEN if it is set, else the cookie of [DefaultCookieFile],
// and uses the defaults below.
type Options struct {
	// Token is a token's text (package token, `wasmactor token create`):
	// the client may do what its role and caveats allow, and proves it
	// without sending its secret. Set Token, or Cookie or CookieFile.
	Token string
	// Cookie is the cluster's shared secret (at least 16 bytes): the
	// client may do anything (role admin). When empty it is read from
	// CookieFile.
	Cookie []byte
	// CookieFile holds the cookie. It is read, never created: a client
	// inventing a cookie no node knows would turn "no cookie" into a
	// confusing handshake failure. Default [DefaultCookieFile].
	CookieFile string
	// DialTimeout bounds connecting and the cookie handshake when ctx has no
	// earlier deadline. Default [DefaultDialTimeout].
	DialTimeout time.Duration
	// Name tells the node who is calling, for its log. Default [DefaultName].
	Name string
	// MaxReply caps one reply from the node, in bytes. Default
	// [DefaultMaxReply].
	MaxReply int
	// TLS, or CertFile, KeyFile and CAFile, configure mutual TLS for a
	// cluster that requires it (see docs/protocol.md). Default: ephemeral
	// keys, with the cookie proof as the authentication.
	TLS                       *tls.Config
	CertFile, KeyFile, CAFile string
}

// DefaultCookieFile is the cookie file nodes and the CLI use when none is
// configured: $WASMACTOR_COOKIE_FILE, else $XDG_DATA_HOME/wasmactor/cookie,
// else ~/.local/share/wasmactor/cookie.
func DefaultCookieFile() (string, error) {
	if f := os.Getenv(EnvCookieFile); f != "" {
		return f, nil
	}
	if x := os.Getenv("XDG_DATA_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "wasmactor", "cookie"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return "", fmt.Errorf("%w: no home directory for the default cookie file; set %s or Options.CookieFile", wasmactor.ErrBadArgument, EnvCookieFile)
	}
	return filepath.Join(home, ".local", "share", "wasmactor", "cookie"), nil
}

// ReadCookieFile reads a cookie file the way nodes do (the same format and
// permission checks: a file readable by group or others is refused), but
// never creates one.
//
// # Errors
//
// An error matching [os.ErrNotExist] when there is no file; one wrapping
// [wasmactor.ErrBadArgument] for a file that is not a cookie or is too
// widely readable.
func ReadCookieFile(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	return quic.LoadOrCreateCookie(path)
}

// Client is a connection to one node of a cluster, as a non-member: it
// proves the cookie like a node does but takes no part in membership, holds
// no actors and receives no messages. It asks the node to act on the whole
// cluster: deploy, spawn anywhere, send and call by PID or name, list.
//
// A Client is safe for concurrent use; each request travels on a QUIC
// stream of its own.
type Client struct {
	conn transport.Client
	once sync.Once
	err  error
}

// Dial connects to the node at addr (host:port) and proves the cookie or a
// token (see [Options]).
//
// # Errors
//
// An error matching [os.ErrNotExist] when no credential was given and the
// cookie file does not exist; [transport.ErrHandshake] when the node
// refused the cookie or token; [wasmactor.ErrPermission] for a token that
// has expired; [wasmactor.ErrBadArgument] for a malformed token, or both
// a token and a cookie; otherwise the network's error.
func Dial(ctx context.Context, addr string, opts Options) (*Client, error) {
	tok, cookie := opts.Token, opts.Cookie
	if tok != "" && (len(cookie) > 0 || opts.CookieFile != "") {
		return nil, fmt.Errorf("%w: set Options.Token or a cookie, not both", wasmactor.ErrBadArgument)
	}
	if tok == "" && len(cookie) == 0 && opts.CookieFile == "" {
		tok = os.Getenv(EnvToken)
	}
	if tok == "" && len(cookie) == 0 {
		file := opts.CookieFile
		if file == "" {
			var err error
			if file, err = DefaultCookieFile(); err != nil {
				return nil, err
			}
		}
		var err error
		if cookie, err = ReadCookieFile(file); err != nil {
			return nil, fmt.Errorf("wasmactor: cookie file: %w", err)
		}
	}
	timeout := cmp.Or(opts.DialTimeout, DefaultDialTimeout)
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < timeout {
		timeout = time.Until(dl)
	}
	conn, err := quic.Dial(ctx, addr, quic.ClientConfig{
		Name:     cmp.Or(opts.Name, DefaultName),
		Cookie:   cookie,
		Token:    tok,
		Timeout:  timeout,
		MaxFrame: cmp.Or(opts.MaxReply, DefaultMaxReply),
		TLS:      opts.TLS,
		CertFile: opts.CertFile,
		KeyFile:  opts.KeyFile,
		CAFile:   opts.CAFile,
	})
	if err != nil {
		return nil, err
	}
	return New(conn), nil
}

// New makes a Client of a connection that is already open, such as one
// from transport/quic's Dial with settings Options does not offer, or an
// in-memory one in tests. The Client owns conn: Close closes it.
func New(conn transport.Client) *Client { return &Client{conn: conn} }

// Peer is the node this client is connected to.
func (c *Client) Peer() NodeInfo { return c.conn.Peer() }

// Close closes the connection. Safe to call more than once; requests in
// flight fail.
func (c *Client) Close() error {
	c.once.Do(func() { c.err = c.conn.Close() })
	return c.err
}

// CBOR is a message that is already CBOR-encoded: Send, Call and Spawn's
// Args pass it to the actor unchanged, and Call returns replies as CBOR.
type CBOR []byte

// Decode decodes the CBOR into v.
func (c CBOR) Decode(v any) error { return cbor.Unmarshal(c, v) }

// encode turns a Go value into a message payload; nil is an empty one.
func encode(v any) ([]byte, error) {
	switch m := v.(type) {
	case nil:
		return nil, nil
	case CBOR:
		return m, nil
	}
	b, err := proto.EncodeValue(v)
	if err != nil {
		return nil, fmt.Errorf("%w: cannot encode message as CBOR: %v", wasmactor.ErrBadArgument, err)
	}
	return b, nil
}

// ErrMalformedReply is matched (errors.Is) by the error for an answer of
// the node that does not decode: a node of another version, or a bug.
var ErrMalformedReply = errors.New("wasmactor: malformed reply")

// malformedError keeps the decoder's text and matches ErrMalformedReply.
type malformedError struct{ err error }

func (e *malformedError) Error() string   { return e.err.Error() }
func (e *malformedError) Unwrap() []error { return []error{ErrMalformedReply, e.err} }

// remoteError is an error the node answered with. Its text is the node's,
// and it matches both the wasmactor sentinel its code stands for
// (errors.Is(err, wasmactor.ErrNoProc)) and the *transport.RemoteError
// (errors.As), which carries the code.
type remoteError struct {
	re       *transport.RemoteError
	sentinel error
}

func (e *remoteError) Error() string { return e.re.Message }
func (e *remoteError) Unwrap() []error {
	if e.sentinel == nil {
		return []error{e.re}
	}
	return []error{e.sentinel, e.re}
}

func newRemoteError(re *transport.RemoteError) error {
	return &remoteError{re: re, sentinel: abi.Errno(re.Code).Err()}
}

// request sends one control request and decodes the answer into reply
// (when not nil).
func (c *Client) request(ctx context.Context, kind uint16, body []byte, reply any) error {
	b, err := c.conn.Call(ctx, transport.Control{Kind: kind, Body: body})
	if err != nil {
		var re *transport.RemoteError
		if errors.As(err, &re) {
			return newRemoteError(re)
		}
		return err
	}
	if reply == nil {
		return nil
	}
	if err := proto.Unmarshal(b, reply); err != nil {
		return &malformedError{err}
	}
	return nil
}

// checkTarget rejects text that looks like a PID but is not one before it
// reaches the node; anything else is a registered name.
func checkTarget(target string) error {
	if target == "" {
		return fmt.Errorf("%w: empty target", wasmactor.ErrBadArgument)
	}
	if strings.HasPrefix(target, "<") {
		_, err := wasmactor.ParsePID(target)
		return err
	}
	return nil
}
