package abi

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor"
)

// The guest codes are indexed by value; the rest are looked up.
func TestCodeTableIsInOrder(t *testing.T) {
	for i := range firstHostOnly {
		require.Equal(t, Errno(i), codes[i].errno)
	}
	names := map[string]bool{}
	for _, c := range codes {
		require.False(t, names[c.name], "duplicate name %s", c.name)
		names[c.name] = true
		if int(c.errno) < firstHostOnly {
			require.Equal(t, c.errno, c.guest)
		} else {
			require.GreaterOrEqual(t, c.errno, Errno(100))
			require.Less(t, int(c.guest), firstHostOnly, "%s folds to a guest code", c.name)
		}
	}
}

func TestEveryCodeRoundTripsThroughItsSentinel(t *testing.T) {
	for _, c := range codes {
		require.Equal(t, c.name, c.errno.String())
		err := c.errno.Err()
		if c.errno == OK {
			require.NoError(t, err)
			require.Equal(t, OK, CodeOf(nil))
			require.Equal(t, OK, ErrnoOf(nil))
			continue
		}
		wrapped := fmt.Errorf("context: %w", err)
		require.Equal(t, c.errno, CodeOf(wrapped), c.name)
		require.Equal(t, c.guest, ErrnoOf(wrapped), c.name)
		require.Equal(t, c.guest, c.errno.Guest(), c.name)
		require.ErrorIs(t, c.guest.Err(), ErrnoOf(wrapped).Err())
	}
}

func TestEverySentinelHasACode(t *testing.T) {
	for _, err := range []error{wasmactor.ErrNoProc, wasmactor.ErrStaleIncarnation, wasmactor.ErrMailboxFull,
		wasmactor.ErrUnknownFactory, wasmactor.ErrModuleUnavailable, wasmactor.ErrAmbiguousFactory,
		wasmactor.ErrNameTaken, wasmactor.ErrNotFound, wasmactor.ErrNodeDown, wasmactor.ErrUnknownNode,
		wasmactor.ErrTimeout, wasmactor.ErrCrashed, wasmactor.ErrTooLarge, wasmactor.ErrBadModule,
		wasmactor.ErrBadPID, wasmactor.ErrBadArgument, wasmactor.ErrClosed, wasmactor.ErrPermission, wasmactor.ErrLimit,
		wasmactor.ErrCannotSnapshot, wasmactor.ErrSnapshotFailed, wasmactor.ErrRestoreFailed, wasmactor.ErrBusy, wasmactor.ErrInUse} {
		c := CodeOf(err)
		require.NotEqual(t, Internal, c, err.Error())
		require.Same(t, err, c.Err())
	}
}

func TestUnknownCodesAreInternal(t *testing.T) {
	require.Equal(t, Internal, CodeOf(errors.New("what")))
	require.Equal(t, Internal, ErrnoOf(errors.New("what")))
	for _, e := range []Errno{13, 99, 108, 200, 0xffff} {
		require.ErrorIs(t, e.Err(), errInternal)
		require.Equal(t, "INTERNAL", e.String())
		require.Equal(t, Internal, e.Guest())
	}
}

// A guest gets the code it can act on; a peer or client gets the exact one.
func TestGuestCodeWinsForGuests(t *testing.T) {
	err := fmt.Errorf("%w: %w", wasmactor.ErrCrashed, wasmactor.ErrNoProc)
	require.Equal(t, Crashed, CodeOf(err))
	require.Equal(t, NoProc, ErrnoOf(err))
	require.Equal(t, UnknownFactory, ErrnoOf(wasmactor.ErrAmbiguousFactory))
	require.Equal(t, NodeDown, ErrnoOf(wasmactor.ErrUnknownNode))
	require.Equal(t, BadArgument, ErrnoOf(wasmactor.ErrBadPID))
}

func TestKindNames(t *testing.T) {
	for k, name := range map[Kind]string{KindStart: "START", KindRestore: "RESTORE", KindTell: "TELL", KindAsk: "ASK",
		KindReply: "REPLY", KindDown: "DOWN", KindExit: "EXIT", KindStop: "STOP", KindNodeDown: "NODEDOWN", KindGroup: "GROUP",
		KindSpawned: "SPAWNED", KindDrop: "DROP", 0: "UNKNOWN", 13: "UNKNOWN", 0xffff: "UNKNOWN"} {
		require.Equal(t, name, k.String())
	}
}
