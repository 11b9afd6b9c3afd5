package host

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor"
)

func TestDNSSeedsResolveToEveryAddress(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	addrs, err := resolveSeeds(ctx, []string{"10.1.2.3:7946", "dns:localhost:7000"})
	require.NoError(t, err)
	require.Equal(t, "10.1.2.3:7946", addrs[0], "plain seeds pass as they are")
	require.Contains(t, addrs[1:], "127.0.0.1:7000")

	addrs, err = resolveSeeds(ctx, []string{"dns:nohost", "h:1"})
	require.ErrorIs(t, err, wasmactor.ErrBadArgument)
	require.Equal(t, []string{"h:1"}, addrs, "the seeds that resolved are kept")
}
