package main

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor/host"
)

func TestLimitFlag(t *testing.T) {
	var l host.Limits
	require.NoError(t, setLimits(&l, []string{"actors=1000", "guest_memory=4GiB", "mailbox_bytes=512KiB",
		"pending_asks_per_actor = 7", "timer_bytes=1_000"}))
	require.Equal(t, host.Limits{Actors: 1000, GuestMemory: 4 << 30, MailboxBytes: 512 << 10, PendingAsksPerActor: 7, TimerBytes: 1000}, l)

	for _, bad := range []string{"actors", "nonsense=1", "actors=-1", "actors=1TiB", "actors=x", "guest_memory=9999999999GiB"} {
		err := setLimits(&l, []string{bad})
		var ee *exitError
		require.ErrorAs(t, err, &ee, bad)
		require.Equal(t, exitUsage, ee.code, bad)
	}
}

// Every field of host.Limits has a flag name, which is the label of its
// refusals in the metrics (see host.Limits).
func TestLimitNamesCoverEveryField(t *testing.T) {
	names := limitNames()
	require.Len(t, names, reflect.TypeFor[host.Limits]().NumField())
	require.Contains(t, names, "pending_asks_per_actor")
	require.Contains(t, names, "log_lines_per_second")
	for _, n := range names {
		require.Contains(t, limitsHelp(), n)
	}
}
