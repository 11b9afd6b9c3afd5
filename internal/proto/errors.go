package proto

import (
	"errors"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/abi"
)

// Error codes in transport.RemoteError: 0-99 are the ABI codes (docs/abi.md),
// from 100 the sentinels a guest never sees, so a CLI or a peer gets back
// exactly the error the node had.
const (
	CodeBadModule         uint16 = 100
	CodeUnknownNode       uint16 = 101
	CodeAmbiguousFactory  uint16 = 102
	CodeCrashed           uint16 = 103
	CodeModuleUnavailable uint16 = 104
	CodeClosed            uint16 = 105
	CodeBadPID            uint16 = 106
)

var extended = []struct {
	code uint16
	err  error
}{
	{CodeBadModule, wasmactor.ErrBadModule},
	{CodeUnknownNode, wasmactor.ErrUnknownNode},
	{CodeAmbiguousFactory, wasmactor.ErrAmbiguousFactory},
	{CodeCrashed, wasmactor.ErrCrashed},
	{CodeModuleUnavailable, wasmactor.ErrModuleUnavailable},
	{CodeClosed, wasmactor.ErrClosed},
	{CodeBadPID, wasmactor.ErrBadPID},
}

// CodeOf is the code for err: an extended code where one matches, else the
// ABI code (INTERNAL for anything unknown).
func CodeOf(err error) uint16 {
	for _, x := range extended {
		if errors.Is(err, x.err) {
			return x.code
		}
	}
	return uint16(abi.ErrnoOf(err))
}

// ErrOf is the sentinel a code stands for.
func ErrOf(code uint16) error {
	for _, x := range extended {
		if x.code == code {
			return x.err
		}
	}
	return abi.Errno(code).Err()
}
