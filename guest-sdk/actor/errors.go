package actor

import (
	"errors"
	"strconv"
)

// Sentinel errors, one per ABI error code (docs/abi.md), with the same texts
// as the host's errors so a reason reads the same on both sides. Match them
// with errors.Is. The host's copy of these codes is internal/abi; a test
// (abi_test.go) keeps the two equal.
var (
	ErrNoProc           = errors.New("wasmactor: no such actor")                                     // NOPROC (1)
	ErrMailboxFull      = errors.New("wasmactor: mailbox full")                                      // MAILBOX_FULL (2)
	ErrUnknownFactory   = errors.New("wasmactor: unknown factory")                                   // UNKNOWN_FACTORY (3)
	ErrBadArgument      = errors.New("wasmactor: bad argument")                                      // BAD_ARGUMENT (4)
	ErrNameTaken        = errors.New("wasmactor: name already registered")                           // NAME_TAKEN (5)
	ErrNotFound         = errors.New("wasmactor: name not found")                                    // NOT_FOUND (6)
	ErrNodeDown         = errors.New("wasmactor: node down")                                         // NODE_DOWN (7)
	ErrTimeout          = errors.New("wasmactor: timeout")                                           // TIMEOUT (8)
	ErrTooLarge         = errors.New("wasmactor: too large")                                         // TOO_LARGE (9)
	ErrInternal         = errors.New("wasmactor: internal error")                                    // INTERNAL (10)
	ErrStaleIncarnation = errors.New("wasmactor: pid belongs to a previous incarnation of its node") // STALE_INCARNATION (11)
	ErrLimit            = errors.New("wasmactor: limit reached")                                     // LIMIT (12)
)

// SDK-side errors that have no ABI code.
var (
	// ErrNotAsk: Reply was called while handling something other than an
	// ask, or the ask was already answered.
	ErrNotAsk = errors.New("wasmactor: no ask to reply to")
	// ErrNotInGuest: the package was built for a platform other than
	// wasip1 and no host is attached, so there is nobody to talk to.
	ErrNotInGuest = errors.New("wasmactor: not running inside a wasmactor host")
)

// ABI error codes.
const (
	codeOK               = 0
	codeNoProc           = 1
	codeMailboxFull      = 2
	codeUnknownFactory   = 3
	codeBadArgument      = 4
	codeNameTaken        = 5
	codeNotFound         = 6
	codeNodeDown         = 7
	codeTimeout          = 8
	codeTooLarge         = 9
	codeInternal         = 10
	codeStaleIncarnation = 11
	codeLimit            = 12

	// codeNotInGuest never crosses the ABI; the stub host returns it.
	codeNotInGuest = 0xffff
)

var codeErrors = [...]error{
	codeNoProc:           ErrNoProc,
	codeMailboxFull:      ErrMailboxFull,
	codeUnknownFactory:   ErrUnknownFactory,
	codeBadArgument:      ErrBadArgument,
	codeNameTaken:        ErrNameTaken,
	codeNotFound:         ErrNotFound,
	codeNodeDown:         ErrNodeDown,
	codeTimeout:          ErrTimeout,
	codeTooLarge:         ErrTooLarge,
	codeInternal:         ErrInternal,
	codeStaleIncarnation: ErrStaleIncarnation,
	codeLimit:            ErrLimit,
}

// codeError maps an ABI code to its sentinel; nil for OK. Codes from a newer
// host that this SDK does not know become ErrInternal with the number.
func codeError(code uint32) error {
	switch {
	case code == codeOK:
		return nil
	case code == codeNotInGuest:
		return ErrNotInGuest
	case code < uint32(len(codeErrors)) && codeErrors[code] != nil:
		return codeErrors[code]
	}
	return &unknownCodeError{code: code}
}

type unknownCodeError struct{ code uint32 }

func (e *unknownCodeError) Error() string {
	return "wasmactor: error code " + strconv.FormatUint(uint64(e.code), 10)
}

func (e *unknownCodeError) Unwrap() error { return ErrInternal }
