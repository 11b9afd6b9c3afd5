package dirlock

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestOneOwnerAtATime(t *testing.T) {
	dir := t.TempDir()
	a, err := Take(dir, "lock")
	require.NoError(t, err)
	_, err = Take(dir, "lock")
	require.ErrorIs(t, err, ErrHeld, "a second lock in the same process is refused")
	require.NoError(t, a.Unlock())
	require.NoError(t, a.Unlock(), "unlocking twice is harmless")
	b, err := Take(dir, "lock")
	require.NoError(t, err)
	require.NoError(t, b.Unlock())

	_, err = Take(dir+"/missing", "lock")
	require.Error(t, err)
	require.NotErrorIs(t, err, ErrHeld)
}
