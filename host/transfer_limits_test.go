package host_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sync"
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

// TestUploadHasADeadlineChunksDoNotExtend: an upload whose chunks keep
// coming (so its stall timer never fires) is still dropped, with its
// file, once its overall time is up.
func TestUploadHasADeadlineChunksDoNotExtend(t *testing.T) {
	dataDir := t.TempDir()
	c := &testCluster{net: memtransport.NewNetwork()}
	n1 := newNode(t, host.Config{Name: "n1", DataDir: dataDir, Transport: c.net.NewNode("n1", 1)})
	ctx := ctxT(t)
	conn, err := c.net.DialAs(ctx, "n1", token.AdminGrant())
	require.NoError(t, err)
	defer conn.Close()
	call := func(kind uint16, body any, out any) error {
		b, err := conn.Call(ctx, transport.Control{Kind: kind, Body: proto.Marshal(body)})
		if re := (*transport.RemoteError)(nil); errors.As(err, &re) {
			return fmt.Errorf("%w: %s", abi.Errno(re.Code).Err(), re.Message)
		}
		if err == nil && out != nil {
			err = proto.Unmarshal(b, out)
		}
		return err
	}

	host.SetUploadStall(n1, time.Hour)
	host.SetUploadLife(n1, 100*time.Millisecond)
	var o proto.DeployOpened
	require.NoError(t, call(proto.KindDeployOpen, proto.DeployOpen{Size: 1 << 20}, &o))
	// A byte at a time, until the node drops the upload: only its deadline
	// can (the stall is an hour, and the bytes would last 1 MiB of calls).
	var off int64
	for {
		err := call(proto.KindDeployChunk, proto.DeployChunk{ID: o.ID, Offset: off, Data: []byte{1}}, nil)
		if err != nil {
			require.ErrorIs(t, err, wasmactor.ErrNotFound, "after %d bytes", off)
			break
		}
		off++
	}
	require.Zero(t, host.OpenUploads(n1))
	files, err := filepath.Glob(filepath.Join(dataDir, "uploads", "*"))
	require.NoError(t, err)
	require.Empty(t, files)
}

// failingReader gives n bytes, then err.
type failingReader struct {
	r   io.Reader
	err error
}

func (f failingReader) Read(p []byte) (int, error) {
	k, err := f.r.Read(p)
	if err == io.EOF {
		return k, f.err
	}
	return k, err
}

// TestDeployFromThatFailsAbortsItsUpload: a deploy whose reader fails
// after some chunks went, or that is short, leaves no upload on the node
// (the client aborts it), so failed deploys do not use up the node's
// uploads.
func TestDeployFromThatFailsAbortsItsUpload(t *testing.T) {
	c := &testCluster{net: memtransport.NewNetwork()}
	n1 := newNode(t, host.Config{Name: "n1", DataDir: t.TempDir(), Transport: c.net.NewNode("n1", 1)})
	ctx := ctxT(t)
	conn, err := c.net.DialAs(ctx, "n1", token.AdminGrant())
	require.NoError(t, err)
	cl := wac.New(conn)
	defer cl.Close()

	boom := errors.New("boom")
	for range 10 { // more than the node's uploads
		r := failingReader{bytes.NewReader(make([]byte, proto.ChunkSize+100)), boom}
		_, err := cl.DeployFrom(ctx, r, 2*proto.ChunkSize)
		require.ErrorIs(t, err, boom)
		require.Zero(t, host.OpenUploads(n1), "the failed deploy's upload is gone")
		_, err = cl.DeployFrom(ctx, bytes.NewReader(make([]byte, 100)), 200)
		require.ErrorIs(t, err, wasmactor.ErrBadArgument, "a short module")
		require.Zero(t, host.OpenUploads(n1))
	}
}

// TestPullsAreBoundedPerHolder: a member that asks for spawns of modules
// it says it holds, and then never sends a chunk, holds at most
// MaxPullsPerPeer pulls on the node; the next spawn fails at once with
// ErrLimit, naming the bound. A holder that sends chunks smaller than a
// chunk is refused at the first one.
func TestPullsAreBoundedPerHolder(t *testing.T) {
	c := newCluster(t, 1, host.Config{})
	n1 := c.nodes[0]
	ctx := ctxT(t)
	r := c.joinRogue(t, &rogue{tr: c.net.NewNode("r", 9), blobs: map[string][]byte{},
		asked: make(chan registry.Hash, 16), gate: make(chan struct{})})
	spawn := func(i int) error {
		info := registry.ModuleInfo{Hash: registry.HashOf([]byte(fmt.Sprint("module ", i))), Size: 48 << 20, Factories: []string{fmt.Sprint("F", i)}}
		_, err := r.tr.Call(ctx, "n1", transport.Control{Kind: proto.KindSpawn,
			Body: proto.Marshal(proto.Spawn{Factory: info.Factories[0], Module: &info, Holder: "r"})})
		if re := (*transport.RemoteError)(nil); errors.As(err, &re) {
			return fmt.Errorf("%w: %s", abi.Errno(re.Code).Err(), re.Message)
		}
		return err
	}
	var wg sync.WaitGroup
	for i := range host.MaxPullsPerPeer {
		wg.Go(func() { require.Error(t, spawn(i)) })
	}
	for range host.MaxPullsPerPeer {
		<-r.asked // every pull is waiting for its first chunk
	}
	err := spawn(100)
	require.ErrorIs(t, err, wasmactor.ErrLimit)
	require.ErrorContains(t, err, fmt.Sprintf("%d module pulls from r in flight", host.MaxPullsPerPeer))
	close(r.gate)
	wg.Wait()

	// The slots came back; a holder of 1-byte chunks is refused.
	r.gate = nil
	r.chunk = 1
	wasm := fixture(t, "minimal_actor.wasm")
	r.serve(wasm)
	info := moduleOf(wasm, 1, "Echo")
	_, err = r.tr.Call(ctx, "n1", transport.Control{Kind: proto.KindSpawn,
		Body: proto.Marshal(proto.Spawn{Factory: "Echo", Module: &info, Holder: "r"})})
	require.ErrorContains(t, err, "sent 1 bytes at offset 0")
	require.Zero(t, n1.Pulls())
}

// TestClosedClientConnectionTakesItsUploads: the uploads of a client
// connection that closes are dropped with their files, at once; another
// connection's stay.
func TestClosedClientConnectionTakesItsUploads(t *testing.T) {
	c := &testCluster{net: memtransport.NewNetwork()}
	n1 := newNode(t, host.Config{Name: "n1", DataDir: t.TempDir(), Transport: c.net.NewNode("n1", 1)})
	ctx := ctxT(t)
	dial := func() transport.Client {
		conn, err := c.net.DialAs(ctx, "n1", token.AdminGrant())
		require.NoError(t, err)
		return conn
	}
	open := func(conn transport.Client) {
		_, err := conn.Call(ctx, transport.Control{Kind: proto.KindDeployOpen, Body: proto.Marshal(proto.DeployOpen{Size: 100})})
		require.NoError(t, err)
	}
	a, b := dial(), dial()
	defer b.Close()
	open(a)
	open(a)
	open(b)
	require.Equal(t, 3, host.OpenUploads(n1))
	require.NoError(t, a.Close())
	require.Eventually(t, func() bool { return host.OpenUploads(n1) == 1 }, 10*time.Second, time.Millisecond, "a's uploads went with it")
	open(b) // b's slot and its own are there
}
