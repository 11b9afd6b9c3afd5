// Package abi holds the words of the guest ABI (docs/abi.md) that packages
// other than the engine need, so that they can speak them without linking
// the engine and its WebAssembly runtime: a client of a node (package
// client, the CLI) decodes error codes, and must stay free of wazero.
package abi

import (
	"errors"

	"github.com/wasmactor/wasmactor"
)

// Errno is an ABI error code (docs/abi.md, "Error codes").
type Errno uint16

// Error codes.
const (
	OK             Errno = 0
	NoProc         Errno = 1
	MailboxFull    Errno = 2
	UnknownFactory Errno = 3
	BadArgument    Errno = 4
	NameTaken      Errno = 5
	NotFound       Errno = 6
	NodeDown       Errno = 7
	Timeout        Errno = 8
	TooLarge       Errno = 9
	Internal       Errno = 10
	Stale          Errno = 11
)

var errnoNames = [...]string{"OK", "NOPROC", "MAILBOX_FULL", "UNKNOWN_FACTORY", "BAD_ARGUMENT",
	"NAME_TAKEN", "NOT_FOUND", "NODE_DOWN", "TIMEOUT", "TOO_LARGE", "INTERNAL", "STALE"}

func (e Errno) String() string {
	if int(e) < len(errnoNames) {
		return errnoNames[e]
	}
	return "INTERNAL"
}

// ErrInternal is what [Errno.Err] gives for INTERNAL and unknown codes; the
// root package has no sentinel for it.
var ErrInternal = errors.New("wasmactor: internal error")

// errnoSentinels maps codes to the root package's sentinels, in code order.
var errnoSentinels = [...]error{
	NoProc:         wasmactor.ErrNoProc,
	MailboxFull:    wasmactor.ErrMailboxFull,
	UnknownFactory: wasmactor.ErrUnknownFactory,
	BadArgument:    wasmactor.ErrBadArgument,
	NameTaken:      wasmactor.ErrNameTaken,
	NotFound:       wasmactor.ErrNotFound,
	NodeDown:       wasmactor.ErrNodeDown,
	Timeout:        wasmactor.ErrTimeout,
	TooLarge:       wasmactor.ErrTooLarge,
	Internal:       ErrInternal,
	Stale:          wasmactor.ErrStaleIncarnation,
}

// ErrnoOf maps an error to its ABI code by matching the wasmactor sentinels
// with errors.Is: nil is OK, anything unrecognised is INTERNAL.
// ErrAmbiguousFactory counts as UNKNOWN_FACTORY and ErrUnknownNode as NODE_DOWN,
// the nearest codes a guest can act on.
func ErrnoOf(err error) Errno {
	if err == nil {
		return OK
	}
	for code, sentinel := range errnoSentinels {
		if sentinel != nil && errors.Is(err, sentinel) {
			return Errno(code)
		}
	}
	switch {
	case errors.Is(err, wasmactor.ErrAmbiguousFactory):
		return UnknownFactory
	case errors.Is(err, wasmactor.ErrUnknownNode):
		return NodeDown
	case errors.Is(err, wasmactor.ErrBadPID):
		return BadArgument
	}
	return Internal
}

// Err returns the sentinel error for e: nil for OK, a wasmactor.Err* value
// otherwise (an internal error for INTERNAL and unknown codes).
func (e Errno) Err() error {
	if e == OK {
		return nil
	}
	if int(e) < len(errnoSentinels) {
		return errnoSentinels[e]
	}
	return ErrInternal
}
