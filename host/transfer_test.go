package host_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor"
	wac "github.com/wasmactor/wasmactor/client"
	"github.com/wasmactor/wasmactor/host"
	"github.com/wasmactor/wasmactor/internal/abi"
	"github.com/wasmactor/wasmactor/internal/memtransport"
	"github.com/wasmactor/wasmactor/internal/proto"
	"github.com/wasmactor/wasmactor/registry"
	"github.com/wasmactor/wasmactor/token"
	"github.com/wasmactor/wasmactor/transport"
)

// withPadding appends a custom section of size bytes to a module: still a
// valid module of the same code, as large as a test needs.
func withPadding(wasm []byte, size int) []byte {
	name := "wasmactor-test-padding"
	content := make([]byte, 0, len(name)+binary.MaxVarintLen64+size)
	content = binary.AppendUvarint(content, uint64(len(name)))
	content = append(content, name...)
	x := uint32(2463534242) // xorshift: bytes no codec could shrink
	for range size {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		content = append(content, byte(x))
	}
	out := append([]byte(nil), wasm...)
	out = append(out, 0) // custom section
	out = binary.AppendUvarint(out, uint64(len(content)))
	return append(out, content...)
}

// sizeTap records the largest message that crosses it: every call request
// and reply, and every blob, both ways. It wraps a node's transport (what
// the node sends and what it is sent) or a client's connection.
type sizeTap struct {
	transport.Transport
	largest *atomic.Int64
}

func see(largest *atomic.Int64, n int) {
	for {
		cur := largest.Load()
		if int64(n) <= cur || largest.CompareAndSwap(cur, int64(n)) {
			return
		}
	}
}

func (t sizeTap) Start(ctx context.Context, h transport.Handler) error {
	return t.Transport.Start(ctx, tapHandler{h, t.largest})
}

func (t sizeTap) Call(ctx context.Context, node string, req transport.Control) ([]byte, error) {
	see(t.largest, len(req.Body))
	b, err := t.Transport.Call(ctx, node, req)
	see(t.largest, len(b))
	return b, err
}

func (t sizeTap) FetchBlob(ctx context.Context, node, key string, max int64) ([]byte, error) {
	b, err := t.Transport.FetchBlob(ctx, node, key, max)
	see(t.largest, len(b))
	return b, err
}

type tapHandler struct {
	transport.Handler
	largest *atomic.Int64
}

func (h tapHandler) HandleCall(ctx context.Context, from transport.PeerInfo, req transport.Control) ([]byte, error) {
	see(h.largest, len(req.Body))
	b, err := h.Handler.HandleCall(ctx, from, req)
	see(h.largest, len(b))
	return b, err
}

func (h tapHandler) ServeBlob(ctx context.Context, from transport.PeerInfo, key string) ([]byte, error) {
	b, err := h.Handler.ServeBlob(ctx, from, key)
	see(h.largest, len(b))
	return b, err
}

type clientTap struct {
	transport.Client
	largest *atomic.Int64
}

func (c clientTap) Call(ctx context.Context, req transport.Control) ([]byte, error) {
	see(c.largest, len(req.Body))
	b, err := c.Client.Call(ctx, req)
	see(c.largest, len(b))
	return b, err
}

// TestLargeModuleTravelsInChunksNoMessageOverAChunk: a 40 MiB module (a
// valid one: a small module and a big custom section) is deployed by a
// client and pulled by another node, and no message of either transfer,
// in either direction, is larger than a chunk and its few bytes of
// envelope. The module arrives intact: n2 checks its hash before it
// compiles it, and runs its actor.
func TestLargeModuleTravelsInChunksNoMessageOverAChunk(t *testing.T) {
	var largest atomic.Int64
	c := &testCluster{net: memtransport.NewNetwork()}
	dirs := []string{t.TempDir(), t.TempDir()}
	for i := range 2 {
		cfg := host.Config{Name: []string{"n1", "n2"}[i], DataDir: dirs[i]}
		cfg.Transport = sizeTap{c.net.NewNode(cfg.Name, uint64(i+1)), &largest}
		if i > 0 {
			cfg.Join = []string{"n1"}
		}
		c.nodes = append(c.nodes, newNode(t, cfg))
	}
	c.waitMesh(t)
	n1, n2 := c.nodes[0], c.nodes[1]
	ctx := ctxT(t)

	wasm := withPadding(fixture(t, "minimal_actor.wasm"), 40<<20)
	conn, err := c.net.DialAs(ctx, "n1", token.AdminGrant())
	require.NoError(t, err)
	cl := wac.New(clientTap{conn, &largest})
	defer cl.Close()
	info, err := cl.Deploy(ctx, wasm)
	require.NoError(t, err)
	require.Equal(t, registry.HashOf(wasm), info.Hash)
	require.Equal(t, int64(len(wasm)), info.Size)
	require.Equal(t, []string{"Echo"}, info.Factories)

	require.Eventually(t, func() bool { return len(n2.Modules()) == 1 }, 10*time.Second, time.Millisecond)
	pid, err := n1.Spawn(ctx, "Echo", host.SpawnOptions{Node: "n2"})
	require.NoError(t, err)
	echo(t, n1, pid)
	require.Equal(t, uint64(1), n2.Pulls(), "n2 pulled the module")
	stored, err := os.ReadFile(filepath.Join(dirs[1], "modules", info.Hash.String()+".wasm"))
	require.NoError(t, err)
	require.Equal(t, registry.HashOf(wasm), registry.HashOf(stored), "the module arrived intact")

	const envelope = 1 << 10
	require.Greater(t, largest.Load(), int64(proto.ChunkSize/2), "the tap saw the chunks")
	require.LessOrEqual(t, largest.Load(), int64(proto.ChunkSize+envelope),
		"the largest message of a %d-byte module's deploy and pull", len(wasm))
}

// TestDeployUploadsAreBoundedAndCleanedUp: a client holds at most two
// deploys in chunks open at once; an upload whose chunks stop coming is
// dropped with its file, one whose bytes do not hash to what the commit
// says is refused and dropped, and chunks out of order are refused.
func TestDeployUploadsAreBoundedAndCleanedUp(t *testing.T) {
	dataDir := t.TempDir()
	c := &testCluster{net: memtransport.NewNetwork()}
	cfg := host.Config{Name: "n1", DataDir: dataDir, Transport: c.net.NewNode("n1", 1)}
	n1 := newNode(t, cfg)
	c.nodes = []*host.Node{n1}
	ctx := ctxT(t)
	conn, err := c.net.DialAs(ctx, "n1", token.AdminGrant())
	require.NoError(t, err)
	defer conn.Close()
	call := func(kind uint16, body any, out any) error {
		b, err := conn.Call(ctx, transport.Control{Kind: kind, Body: proto.Marshal(body)})
		if re := (*transport.RemoteError)(nil); errors.As(err, &re) {
			return fmt.Errorf("%w: %s", abi.Errno(re.Code).Err(), re.Message)
		}
		if err != nil {
			return err
		}
		if out != nil {
			return proto.Unmarshal(b, out)
		}
		return nil
	}
	uploads := func() []string {
		names, err := filepath.Glob(filepath.Join(dataDir, "uploads", "*"))
		require.NoError(t, err)
		return names
	}
	open := func() proto.DeployOpened {
		var o proto.DeployOpened
		require.NoError(t, call(proto.KindDeployOpen, proto.DeployOpen{Size: 100}, &o))
		return o
	}

	// Two at once per client, then a limit.
	a, b := open(), open()
	require.ErrorIs(t, call(proto.KindDeployOpen, proto.DeployOpen{Size: 100}, nil), wasmactor.ErrLimit)
	require.Len(t, uploads(), 2)

	// Out of order, then a commit whose hash is not the bytes'.
	require.ErrorIs(t, call(proto.KindDeployChunk, proto.DeployChunk{ID: a.ID, Offset: 50, Data: make([]byte, 50)}, nil), wasmactor.ErrBadArgument)
	require.NoError(t, call(proto.KindDeployChunk, proto.DeployChunk{ID: a.ID, Data: make([]byte, 100)}, nil))
	require.ErrorIs(t, call(proto.KindDeployCommit, proto.DeployCommit{ID: a.ID, Hash: registry.HashOf([]byte("other"))}, nil), wasmactor.ErrBadModule)
	require.ErrorIs(t, call(proto.KindDeployChunk, proto.DeployChunk{ID: a.ID, Offset: 100, Data: []byte{1}}, nil), wasmactor.ErrNotFound, "a refused commit ends the upload")
	require.Len(t, uploads(), 1)
	require.Equal(t, 1, host.OpenUploads(n1))

	// An upload opened with a short stall time stalls and goes with its
	// file (the test waits for that, sending it nothing); b, opened with
	// the default, stays, and so does an upload opened after the stall
	// time changed back (each upload keeps its own).
	require.NoError(t, call(proto.KindDeployChunk, proto.DeployChunk{ID: b.ID, Data: make([]byte, 10)}, nil))
	host.SetUploadStall(n1, time.Millisecond)
	s := open()
	host.SetUploadStall(n1, time.Hour)
	require.Eventually(t, func() bool { return host.OpenUploads(n1) == 1 && len(uploads()) == 1 }, 10*time.Second, time.Millisecond,
		"the stalled upload and its file are gone")
	require.ErrorIs(t, call(proto.KindDeployChunk, proto.DeployChunk{ID: s.ID, Data: []byte{1}}, nil), wasmactor.ErrNotFound)
	require.NoError(t, call(proto.KindDeployChunk, proto.DeployChunk{ID: b.ID, Offset: 10, Data: []byte{1}}, nil), "b is still open")

	// An abort drops the upload and its file at once.
	require.NoError(t, call(proto.KindDeployAbort, proto.DeployCommit{ID: b.ID}, nil))
	require.Zero(t, host.OpenUploads(n1))
	require.Empty(t, uploads())
	require.ErrorIs(t, call(proto.KindDeployChunk, proto.DeployChunk{ID: b.ID, Offset: 11, Data: []byte{1}}, nil), wasmactor.ErrNotFound)

	// Close drops what is open.
	open()
	open()
	require.Len(t, uploads(), 2)
	require.NoError(t, n1.Close())
	require.Empty(t, uploads())
}

// TestLargeModuleDeployAndPullOverQUIC: the same over QUIC, with the
// real frame caps: an 8 MiB module (smaller than above: QUIC under the
// race detector is slow, and the caps are what is tested here) deployed by
// a client whose requests the node caps at about 1 MiB, pulled by a node
// whose replies fit its 1 MiB frame cap. A client request over the cap is
// refused before it is sent.
func TestLargeModuleDeployAndPullOverQUIC(t *testing.T) {
	nodes := quicCluster(t, 2, host.Config{})
	n1, n2 := nodes[0], nodes[1]
	ctx := ctxT(t)
	cl, err := wac.Dial(ctx, n1.Addr(), wac.Options{Cookie: []byte("0123456789abcdef0123456789abcdef")})
	require.NoError(t, err)
	defer cl.Close()

	wasm := withPadding(fixture(t, "minimal_actor.wasm"), 8<<20)
	info, err := cl.Deploy(ctx, wasm)
	require.NoError(t, err)
	require.Equal(t, registry.HashOf(wasm), info.Hash)
	require.Eventually(t, func() bool { return len(n2.Modules()) == 1 }, 10*time.Second, time.Millisecond)
	pid, err := cl.Spawn(ctx, "Echo", wac.SpawnOptions{Node: "n2"})
	require.NoError(t, err)
	echo(t, n1, pid)
	require.Equal(t, uint64(1), n2.Pulls())

	err = cl.Send(ctx, pid.String(), make([]byte, 2<<20))
	require.ErrorIs(t, err, transport.ErrFrameTooLarge, "a client's request over its cap")
}
