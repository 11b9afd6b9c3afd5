package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor/host"
	"github.com/wasmactor/wasmactor/internal/guestbuild"
)

// While one actor on n2 held 10,000 names, `wasmactor ps` through n1 listed
// no actor of n2: n2's whole listing was one reply, larger than the 1 MiB
// frame cap between nodes, and n1 left the failed member out without a
// word (through n2 itself, whose reply to the CLI may be 64 MiB, it was
// all there). Now listings come in bounded pages, and the actor is listed
// with the first 32 of its names and their number.
func TestPsThroughAPeerListsAnActorWithTenThousandNames(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 names over QUIC")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	cookieFile := filepath.Join(dir, "cookie")
	start := func(name string, join ...string) *host.Node {
		n, err := host.Start(ctx, host.Config{Name: name, Listen: "127.0.0.1:0", CookieFile: cookieFile, Join: join,
			Limits: host.Limits{NamesPerActor: 10_000}, // 16 by default
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		require.NoError(t, err)
		t.Cleanup(func() { _ = n.Close() })
		return n
	}
	n1 := start("n1")
	n2 := start("n2", n1.Addr())
	require.Eventually(t, func() bool { return len(n1.Members()) == 1 && len(n2.Members()) == 1 }, 20*time.Second, 10*time.Millisecond)

	root, err := guestbuild.RepoRoot()
	require.NoError(t, err)
	wasm, err := os.ReadFile(filepath.Join(root, "testdata", "minimal_actor.wasm"))
	require.NoError(t, err)
	_, err = n2.Deploy(ctx, wasm)
	require.NoError(t, err)
	pid, err := n2.Spawn(ctx, "Echo", host.SpawnOptions{Node: "n2"})
	require.NoError(t, err)
	// Long names, so the listing is over 1 MiB; registered in chunks that
	// fit the control queue to n1 (each registration is a cast).
	pad := strings.Repeat("x", 110)
	const names, chunk = 10000, 1000
	for i := 0; i < names; i += chunk {
		for j := i; j < i+chunk; j++ {
			require.NoError(t, n2.Register(ctx, fmt.Sprintf("%s-%05d", pad, j), pid))
		}
		last := fmt.Sprintf("%s-%05d", pad, i+chunk-1)
		require.Eventually(t, func() bool { _, err := n1.Whereis(ctx, last); return err == nil }, 20*time.Second, time.Millisecond)
	}

	var out, errb bytes.Buffer
	code := run(ctx, []string{"--node", n1.Addr(), "--cookie-file", cookieFile, "ps"}, &out, &errb)
	require.Equal(t, 0, code, errb.String())
	require.Empty(t, errb.String())
	require.Contains(t, out.String(), pid.String()+" ", "n2's actor is listed through n1")
	require.Contains(t, out.String(), fmt.Sprintf("%s-%05d,... (%d in all)", pad, 31, names))
}
