package host

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/proto"
	"github.com/wasmactor/wasmactor/registry"
	"github.com/wasmactor/wasmactor/transport"
)

// Modules travel in chunks of at most proto.ChunkSize bytes, so that
// neither end of a deploy or a pull ever holds a message the size of the
// module, and the request cap no longer follows the module cap.
//
// A client deploys by opening an upload, sending its chunks in order, one
// at a time, and committing; the node appends them to a file and hashes
// them as they come, and only at the commit reads the file for the
// compiler (which takes a module whole). A node pulls by asking a holder
// for one chunk after another; the holder reads each from its store and
// keeps nothing between two, so a puller that goes away leaves nothing
// behind there.

const (
	// maxUploadsPerClient and maxUploads bound the deploys in chunks open
	// at once, per client connection and per node; each holds a file and
	// a hasher, never a module in memory.
	maxUploadsPerClient = 2
	maxUploads          = 8
	// defaultUploadStall is how long an upload may go without a chunk
	// before it is dropped with its file: a client that went away without
	// aborting (no event tells a node of that) or stalled.
	defaultUploadStall = 30 * time.Second
	// An upload must also commit within uploadBaseTime plus a second per
	// uploadMinRate bytes of its size (about 5 minutes for a module at
	// the 64 MiB cap): a client sending a byte now and then, which the
	// stall timer alone would let hold a slot for ever, loses it.
	uploadBaseTime = time.Minute
	uploadMinRate  = 256 << 10
	// maxChunkReads bounds the chunks this node reads for pullers at once
	// (each a buffer of at most ChunkSize); more wait their turn.
	maxChunkReads = 8
	// maxPullsPerPeer and maxPulls bound the module transfers into this
	// node in flight at once, per holder pulled from and per node. A
	// holder sets the pace and sends the bytes of a pull (and a spawn
	// request from any member may name any holder), so a holder that
	// trickles chunks holds at most maxPullsPerPeer pulls' bytes here.
	// Over the bound a pull fails at once with wasmactor.ErrLimit.
	maxPullsPerPeer = 4
	maxPulls        = 16
)

// uploads are the deploys arriving in chunks, the chunk reads served to
// pullers and the pulls in flight. mu is a leaf; an upload's own mu may be
// held when it is taken (never the other way round).
type uploads struct {
	mu      sync.Mutex
	dir     string        // where upload files go ("" for the system's temp dir)
	stall   time.Duration // the stall time of uploads opened from now on
	life    time.Duration // if not 0, the overall time of uploads opened from now on (tests)
	next    uint64
	open    map[uint64]*upload
	perPeer map[string]int
	closed  bool

	reads chan struct{} // a slot per chunk read in flight

	pullsAll int            // pulls in flight into this node
	pulls    map[string]int // and per holder
}

// upload is one deploy in chunks. Its mu is held while a chunk is written,
// so its chunks are taken one at a time.
type upload struct {
	id       uint64
	owner    string
	size     int64
	stall    time.Duration // dropped after this long without a chunk
	deadline time.Time     // or at this time, chunks or not

	mu      sync.Mutex
	timer   *time.Timer // armed and stopped under mu, so never re-armed once gone
	f       *os.File
	written int64
	sum     hash.Hash
	last    time.Time // when the last chunk (or the open) came
	gone    bool      // committed or dropped: f is closed and removed
}

// init prepares the upload directory: dataDir/uploads, emptied of what a
// previous run left (a crash mid-upload), or the system's temp dir for a
// node without a data dir.
func (u *uploads) init(dataDir string) error {
	u.open = make(map[uint64]*upload)
	u.perPeer = make(map[string]int)
	u.pulls = make(map[string]int)
	u.stall = defaultUploadStall
	u.reads = make(chan struct{}, maxChunkReads)
	if dataDir == "" {
		return nil
	}
	u.dir = filepath.Join(dataDir, "uploads")
	if err := os.RemoveAll(u.dir); err != nil {
		return fmt.Errorf("wasmactor: data dir: %w", err)
	}
	if err := os.MkdirAll(u.dir, 0o700); err != nil {
		return fmt.Errorf("wasmactor: data dir: %w", err)
	}
	return nil
}

// uploadOwner names a client connection: an upload's chunks count only
// from the connection that opened it.
func uploadOwner(from transport.PeerInfo) string {
	return fmt.Sprintf("%s@%s/%x", from.Name, from.Addr, from.Incarnation)
}

// openUpload starts a deploy in chunks of size bytes for a client.
func (n *Node) openUpload(from transport.PeerInfo, size int64) (proto.DeployOpened, error) {
	if err := n.checkOpen(); err != nil {
		return proto.DeployOpened{}, err
	}
	if size > int64(n.cfg.MaxModuleSize) {
		return proto.DeployOpened{}, fmt.Errorf("%w: module is %d bytes, the cap is %d", wasmactor.ErrTooLarge, size, n.cfg.MaxModuleSize)
	}
	if size <= 0 {
		return proto.DeployOpened{}, fmt.Errorf("%w: a module of %d bytes", wasmactor.ErrBadModule, size)
	}
	// The limits first, a slot taken, and only then a file: a client over
	// them creates nothing. up.mu is held until the file and the timer are
	// there (no chunk can find the upload before: its id is not out yet;
	// closeUploads waits for it).
	up := &upload{owner: uploadOwner(from), size: size, sum: sha256.New()}
	up.mu.Lock()
	defer up.mu.Unlock()
	u := &n.up
	var err error
	u.mu.Lock()
	switch {
	case u.closed:
		err = fmt.Errorf("%w: node %s", wasmactor.ErrClosed, n.cfg.Name)
	case u.perPeer[up.owner] >= maxUploadsPerClient:
		err = fmt.Errorf("%w: %d deploys in flight from this client", wasmactor.ErrLimit, maxUploadsPerClient)
	case len(u.open) >= maxUploads:
		err = fmt.Errorf("%w: %d deploys in flight on node %s", wasmactor.ErrLimit, maxUploads, n.cfg.Name)
	}
	if err != nil {
		u.mu.Unlock()
		return proto.DeployOpened{}, err
	}
	life := u.life
	if life == 0 {
		life = uploadBaseTime + time.Duration(size/uploadMinRate)*time.Second
	}
	up.stall = u.stall
	u.next++
	up.id = u.next
	u.open[up.id] = up
	u.perPeer[up.owner]++
	u.mu.Unlock()

	f, err := os.CreateTemp(u.dir, "deploy-*.part")
	if err != nil {
		up.gone = true
		n.dropUpload(up)
		return proto.DeployOpened{}, fmt.Errorf("deploy: %w", err)
	}
	up.f = f
	now := time.Now()
	up.last, up.deadline = now, now.Add(life)
	up.timer = time.AfterFunc(min(up.stall, life), func() { n.expireUpload(up) })
	return proto.DeployOpened{ID: up.id, ChunkSize: proto.ChunkSize}, nil
}

// discard closes and removes an upload's file.
func discard(f *os.File) {
	_ = f.Close()
	_ = os.Remove(f.Name())
}

// findUpload is the open upload id of the client from.
func (n *Node) findUpload(from transport.PeerInfo, id uint64) (*upload, error) {
	n.up.mu.Lock()
	up := n.up.open[id]
	n.up.mu.Unlock()
	if up == nil || up.owner != uploadOwner(from) {
		return nil, errNoUpload(id)
	}
	return up, nil
}

func errNoUpload(id uint64) error {
	return fmt.Errorf("%w: deploy upload %d (it ended, stalled, or was opened by another connection)", wasmactor.ErrNotFound, id)
}

// uploadChunk appends the next chunk to an upload.
func (n *Node) uploadChunk(from transport.PeerInfo, c proto.DeployChunk) error {
	up, err := n.findUpload(from, c.ID)
	if err != nil {
		return err
	}
	up.mu.Lock()
	defer up.mu.Unlock()
	switch {
	case up.gone:
		return errNoUpload(c.ID)
	case c.Offset != up.written:
		return fmt.Errorf("%w: deploy chunk at offset %d, the node has %d bytes", wasmactor.ErrBadArgument, c.Offset, up.written)
	case len(c.Data) == 0 || len(c.Data) > proto.ChunkSize:
		return fmt.Errorf("%w: deploy chunk of %d bytes (1 to %d)", wasmactor.ErrBadArgument, len(c.Data), proto.ChunkSize)
	case up.written+int64(len(c.Data)) > up.size:
		return fmt.Errorf("%w: deploy chunks past the %d bytes announced", wasmactor.ErrBadArgument, up.size)
	}
	if _, err := up.f.Write(c.Data); err != nil {
		return fmt.Errorf("deploy: %w", err)
	}
	up.sum.Write(c.Data)
	up.written += int64(len(c.Data))
	up.last = time.Now()
	return nil
}

// commitUpload ends an upload: every byte came and they hash to c.Hash.
// It returns the module's bytes for Deploy; the file is gone either way.
func (n *Node) commitUpload(from transport.PeerInfo, c proto.DeployCommit) ([]byte, error) {
	up, err := n.findUpload(from, c.ID)
	if err != nil {
		return nil, err
	}
	up.mu.Lock()
	defer up.mu.Unlock()
	if up.gone {
		return nil, errNoUpload(c.ID)
	}
	up.gone = true
	up.timer.Stop()
	n.dropUpload(up)
	defer discard(up.f)
	if up.written != up.size {
		return nil, fmt.Errorf("%w: deploy committed after %d of %d bytes", wasmactor.ErrBadArgument, up.written, up.size)
	}
	if registry.Hash(up.sum.Sum(nil)) != c.Hash {
		return nil, fmt.Errorf("%w: the chunks received do not hash to %s", wasmactor.ErrBadModule, c.Hash.Short())
	}
	wasm := make([]byte, up.size) // the compiler takes the module whole
	if _, err := up.f.ReadAt(wasm, 0); err != nil {
		return nil, fmt.Errorf("deploy: reading the upload back: %w", err)
	}
	return wasm, nil
}

// dropUpload takes an upload out of the table (once). Its timer is the
// caller's to stop, under up.mu.
func (n *Node) dropUpload(up *upload) {
	u := &n.up
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.open[up.id] != up {
		return
	}
	delete(u.open, up.id)
	if u.perPeer[up.owner]--; u.perPeer[up.owner] == 0 {
		delete(u.perPeer, up.owner)
	}
}

// abortUpload drops an upload and its file.
func (n *Node) abortUpload(up *upload, why string) {
	up.mu.Lock()
	defer up.mu.Unlock()
	if up.gone {
		return
	}
	up.gone = true
	up.timer.Stop()
	n.dropUpload(up)
	discard(up.f)
	n.log.Info("deploy upload dropped", "upload", up.id, "received", up.written, "size", up.size, "why", why)
}

// abortUploadOf is a client's KindDeployAbort: it gives up its upload id.
func (n *Node) abortUploadOf(from transport.PeerInfo, id uint64) error {
	up, err := n.findUpload(from, id)
	if err != nil {
		return err
	}
	n.abortUpload(up, "aborted by the client")
	return nil
}

// ClientClosed implements transport.ClientCloser: a client connection
// that ended takes its uploads with it (they can never be committed).
func (h handler) ClientClosed(from transport.PeerInfo) {
	h.n.dropUploadsOf(uploadOwner(from))
}

// dropUploadsOf drops the uploads a client connection opened.
func (n *Node) dropUploadsOf(owner string) {
	u := &n.up
	u.mu.Lock()
	var mine []*upload
	for _, up := range u.open {
		if up.owner == owner {
			mine = append(mine, up)
		}
	}
	u.mu.Unlock()
	for _, up := range mine {
		n.abortUpload(up, "client connection closed")
	}
}

// expireUpload is an upload's timer: it drops an upload that had no chunk
// for its stall time or whose deadline passed, and checks again later on
// one that had a chunk since. It re-arms the timer under up.mu, where
// commit and abort stop it, so the timer of an upload gone stays stopped.
func (n *Node) expireUpload(up *upload) {
	up.mu.Lock()
	if up.gone {
		up.mu.Unlock()
		return
	}
	now := time.Now()
	why := "stalled"
	left := up.stall - now.Sub(up.last)
	if d := up.deadline.Sub(now); d <= left {
		left, why = d, "not committed in time"
	}
	if left > 0 {
		up.timer.Reset(left)
		up.mu.Unlock()
		return
	}
	up.mu.Unlock()
	n.abortUpload(up, why)
}

// closeUploads drops every upload; Close calls it, and no upload opens
// after.
func (n *Node) closeUploads() {
	u := &n.up
	u.mu.Lock()
	u.closed = true
	open := make([]*upload, 0, len(u.open))
	for _, up := range u.open {
		open = append(open, up)
	}
	u.mu.Unlock()
	for _, up := range open {
		n.abortUpload(up, "node closed")
	}
}

// serveChunk answers a peer's KindModuleChunk from the store.
func (n *Node) serveChunk(ctx context.Context, r proto.ModuleChunkRequest) (proto.ModuleChunk, error) {
	info, ok := n.store.Info(r.Hash)
	if !ok {
		return proto.ModuleChunk{}, fmt.Errorf("%w: module %s is not stored here", wasmactor.ErrModuleUnavailable, r.Hash.Short())
	}
	if r.Offset < 0 || r.Offset > info.Size {
		return proto.ModuleChunk{}, fmt.Errorf("%w: offset %d of a module of %d bytes", wasmactor.ErrBadArgument, r.Offset, info.Size)
	}
	select {
	case n.up.reads <- struct{}{}:
		defer func() { <-n.up.reads }()
	case <-ctx.Done():
		return proto.ModuleChunk{}, fmt.Errorf("%w: waiting to read module %s: %w", wasmactor.ErrTimeout, r.Hash.Short(), ctx.Err())
	}
	buf := make([]byte, min(proto.ChunkSize, info.Size-r.Offset))
	k, err := n.store.ReadAt(r.Hash, buf, r.Offset)
	if err != nil && !(errors.Is(err, io.EOF) && k == len(buf)) {
		return proto.ModuleChunk{}, err
	}
	return proto.ModuleChunk{Size: info.Size, Offset: r.Offset, Data: buf}, nil
}

// pullChunks transfers a module from holder a chunk at a time, one in
// flight, hashing as it goes; the bytes are checked against info.Hash
// before anyone compiles them. info.Size is only what the member that
// asked for the spawn said: the buffer grows with the chunks that came
// rather than being sized by it, every chunk but the last must be a
// whole ChunkSize (a holder cannot make the pull take a round trip per
// byte), and the pulls in flight are bounded per holder and per node.
func (n *Node) pullChunks(ctx context.Context, holder string, info registry.ModuleInfo) ([]byte, error) {
	release, err := n.startPull(holder)
	if err != nil {
		return nil, err
	}
	defer release()
	var wasm []byte // the compiler takes the module whole
	sum := sha256.New()
	for off := int64(0); off < info.Size; {
		var c proto.ModuleChunk
		if err := n.call(ctx, holder, proto.KindModuleChunk, proto.ModuleChunkRequest{Hash: info.Hash, Offset: off}, &c); err != nil {
			return nil, err
		}
		switch {
		case c.Size != info.Size:
			return nil, fmt.Errorf("%w: %s holds module %s as %d bytes, not %d", wasmactor.ErrBadModule, holder, info.Hash.Short(), c.Size, info.Size)
		case c.Offset != off || int64(len(c.Data)) != min(proto.ChunkSize, info.Size-off):
			return nil, fmt.Errorf("%w: %s sent %d bytes at offset %d for offset %d of module %s (chunks are %d bytes but the last)",
				wasmactor.ErrBadModule, holder, len(c.Data), c.Offset, off, info.Hash.Short(), proto.ChunkSize)
		}
		sum.Write(c.Data)
		wasm = append(wasm, c.Data...)
		off += int64(len(c.Data))
	}
	if registry.Hash(sum.Sum(nil)) != info.Hash {
		return nil, fmt.Errorf("%w: module from %s does not match its hash %s", wasmactor.ErrBadModule, holder, info.Hash.Short())
	}
	return wasm, nil
}

// startPull takes a slot for a pull from holder, or fails with
// wasmactor.ErrLimit; release gives it back.
func (n *Node) startPull(holder string) (release func(), err error) {
	u := &n.up
	u.mu.Lock()
	defer u.mu.Unlock()
	switch {
	case u.pulls[holder] >= maxPullsPerPeer:
		return nil, fmt.Errorf("%w: %d module pulls from %s in flight on node %s", wasmactor.ErrLimit, maxPullsPerPeer, holder, n.cfg.Name)
	case u.pullsAll >= maxPulls:
		return nil, fmt.Errorf("%w: %d module pulls in flight on node %s", wasmactor.ErrLimit, maxPulls, n.cfg.Name)
	}
	u.pulls[holder]++
	u.pullsAll++
	return func() {
		u.mu.Lock()
		defer u.mu.Unlock()
		u.pullsAll--
		if u.pulls[holder]--; u.pulls[holder] == 0 {
			delete(u.pulls, holder)
		}
	}, nil
}
