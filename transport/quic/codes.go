package quic

import (
	"errors"
	"fmt"
	"net"

	qgo "github.com/quic-go/quic-go"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/transport"
)

// QUIC application error codes carried in CONNECTION_CLOSE. They are part of
// the wire protocol (docs/protocol.md). They are untyped so the public API
// names no quic-go type.
const (
	// CodeLeaving: the node is closing its transport cleanly (or a client is
	// done). Peers report ErrPeerLeft and do not redial.
	CodeLeaving = 0x10
	// CodeHandshakeFailed: authentication failed (bad proof, malformed or
	// late handshake message, version mismatch). Nothing more is said.
	CodeHandshakeFailed = 0x11
	// CodeDuplicate: the leader of the pair keeps another connection as
	// the session (two nodes dialled each other at once, or a redundant
	// dial); this one never carried anything.
	CodeDuplicate = 0x12
	// CodeReplaced: a newer incarnation of the peer replaced this connection.
	CodeReplaced = 0x13
	// CodeProtocol: the peer broke the protocol (bad frame, unexpected stream).
	CodeProtocol = 0x14
	// CodeFrameTooLarge: a frame on a lane or the control stream exceeded
	// the cap.
	CodeFrameTooLarge = 0x15
	// CodeSelf: a node dialled itself (its seed list holds its own address).
	CodeSelf = 0x16
	// CodeNameClash: the peer uses this node's name with another incarnation.
	CodeNameClash = 0x17
	// CodeInternal: an unexpected local failure.
	CodeInternal = 0x18
	// CodeWrongNode: the client expected another node at this address (its
	// hello named it); the client forgets the address.
	CodeWrongNode = 0x19
	// CodeBusy: too many connections are still unauthenticated, from the
	// client's address or in all; try later. Not a failed attempt.
	CodeBusy = 0x1a
	// CodeSuperseded: a new session between the same two runs replaced
	// this one, because one side found it lost. The peer reports
	// ErrPeerReconnected.
	CodeSuperseded = 0x1b
)

// QUIC stream error codes carried in RESET_STREAM and STOP_SENDING.
const (
	// StreamCanceled: the caller gave up (context done).
	StreamCanceled = 0x20
	// StreamFrameTooLarge: a frame on the stream exceeded the reader's cap.
	StreamFrameTooLarge = 0x21
	// StreamProtocol: a malformed frame or body, or an unknown stream kind.
	StreamProtocol = 0x22
	// StreamRefused: the stream kind is not allowed for this peer (a client
	// opening a lane).
	StreamRefused = 0x23
	// StreamTooLarge: a blob is larger than the requester accepts.
	StreamTooLarge = 0x24
)

// Stream kinds: the first byte of every stream but the control stream.
const (
	streamLane byte = 1
	streamCall byte = 2
	streamBlob byte = 3
)

var (
	errDuplicate = errors.New("wasmactor: the leader of the pair keeps another connection as the session")
	errSelf      = errors.New("wasmactor: dialled self")
	errNameClash = fmt.Errorf("%w: another node uses this node's name", transport.ErrHandshake)
	errClosing   = fmt.Errorf("%w: transport closing", wasmactor.ErrClosed)
)

// closedError is what methods of a closed transport or client return: it
// matches wasmactor.ErrClosed and net.ErrClosed.
type closedError struct{}

func (closedError) Error() string { return "wasmactor: transport closed" }
func (closedError) Is(target error) bool {
	return target == wasmactor.ErrClosed
}
func (closedError) Unwrap() error { return netErrClosed }

// appCode returns the application error code that closed a connection, and
// whether the peer sent it.
func appCode(err error) (code qgo.ApplicationErrorCode, remote, ok bool) {
	var ae *qgo.ApplicationError
	if errors.As(err, &ae) {
		return ae.ErrorCode, ae.Remote, true
	}
	return 0, false, false
}

// connEnded reports whether err is the end of the whole connection (closed
// by either side, an idle timeout, a stateless reset, a QUIC-level close),
// which a stream's reader or writer may see before the connection's
// context is done.
func connEnded(err error) bool {
	var ae *qgo.ApplicationError
	var te *qgo.TransportError
	var idle *qgo.IdleTimeoutError
	var reset *qgo.StatelessResetError
	return errors.As(err, &ae) || errors.As(err, &te) || errors.As(err, &idle) || errors.As(err, &reset) || errors.Is(err, net.ErrClosed)
}

// streamCode returns the stream error code of a reset or stop-sending.
func streamCode(err error) (qgo.StreamErrorCode, bool) {
	var se *qgo.StreamError
	if errors.As(err, &se) {
		return se.ErrorCode, true
	}
	return 0, false
}

// downReason turns the cause of a lost connection into the reason reported
// to Handler.NodeDown.
func downReason(cause error) error {
	var idle *qgo.IdleTimeoutError
	var reset *qgo.StatelessResetError
	switch code, remote, ok := appCode(cause); {
	case ok && remote && code == CodeLeaving:
		return transport.ErrPeerLeft
	case ok && !remote && code == CodeLeaving:
		return closedError{}
	case ok && code == CodeReplaced:
		return transport.ErrPeerRestarted
	case ok && remote && code == CodeSuperseded:
		return transport.ErrPeerReconnected
	case errors.As(cause, &idle):
		return fmt.Errorf("%w (%v)", transport.ErrPeerTimeout, cause)
	case errors.As(cause, &reset):
		return fmt.Errorf("%w: stateless reset (the peer restarted or lost the connection)", transport.ErrNodeDown)
	}
	return fmt.Errorf("%w: connection lost: %v", transport.ErrNodeDown, cause)
}

// dialError classifies the failure of a connection attempt.
func dialError(addr string, err error) error {
	var te *qgo.TransportError
	if code, remote, ok := appCode(err); ok && remote {
		switch code {
		case CodeDuplicate:
			return errDuplicate
		case CodeSelf:
			return errSelf
		case CodeHandshakeFailed:
			return fmt.Errorf("%w: %s rejected our proof (wrong cookie?)", transport.ErrHandshake, addr)
		case CodeNameClash:
			return errNameClash
		case CodeWrongNode:
			return errWrongNode
		case CodeBusy:
			return fmt.Errorf("%w: %s is busy with unauthenticated connections: %w", transport.ErrHandshake, addr, err)
		}
	}
	if errors.As(err, &te) && te.Remote && te.ErrorCode == qgo.ConnectionRefused {
		return fmt.Errorf("%w: %s refused the connection (too many failed or unfinished handshakes from this address, or in all): %w", transport.ErrHandshake, addr, err)
	}
	if errors.Is(err, transport.ErrHandshake) || errors.Is(err, wasmactor.ErrClosed) {
		return err
	}
	return fmt.Errorf("%w: dial %s: %w", transport.ErrNodeDown, addr, err)
}
