package registry

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/atomicfile"
	"github.com/wasmactor/wasmactor/internal/dirlock"
)

// Store is the content-addressed module store. Implementations are safe for
// concurrent use.
type Store interface {
	// Put stores a module. It checks that HashOf(wasm) equals info.Hash and
	// that len(wasm) equals info.Size (errors wrap [wasmactor.ErrBadModule])
	// and validates info (errors wrap [wasmactor.ErrBadArgument]). Putting a
	// module already stored does nothing, except that a later DeployedAt
	// replaces the stored one (redeploying an old module makes it newest)
	// and that (for [NewDirStore]) a stored copy that no longer matches its
	// hash is replaced by these bytes.
	Put(info ModuleInfo, wasm []byte) error
	// Get returns a copy of the module's bytes. The error wraps
	// [wasmactor.ErrNotFound] if the store has no usable copy: absent, or
	// (for [NewDirStore]) corrupt on disk, in which case the text says so
	// and a later Put repairs it.
	Get(h Hash) ([]byte, error)
	// Info returns the stored module's info.
	Info(h Hash) (ModuleInfo, bool)
	// List returns every stored module, newest first.
	List() []ModuleInfo
	// Delete removes a module (its bytes and info); deleting a module the
	// store does not hold does nothing.
	Delete(h Hash) error
	// ReadAt reads len(p) bytes of the module from offset off, as
	// io.ReaderAt does (io.EOF at its end), without reading the rest: a
	// module is served to peers a chunk at a time. It does not check the
	// hash (the reader of the whole module does); the error wraps
	// [wasmactor.ErrNotFound] for a module the store does not hold.
	ReadAt(h Hash, p []byte, off int64) (int, error)
}

func checkPut(info ModuleInfo, wasm []byte) error {
	if err := info.Validate(); err != nil {
		return err
	}
	if int64(len(wasm)) != info.Size {
		return fmt.Errorf("%w: module %s is %d bytes, its info says %d", wasmactor.ErrBadModule, info.Hash.Short(), len(wasm), info.Size)
	}
	if got := HashOf(wasm); got != info.Hash {
		return fmt.Errorf("%w: module bytes hash to %s, its info says %s", wasmactor.ErrBadModule, got.Short(), info.Hash.Short())
	}
	return nil
}

func notFound(h Hash) error {
	return fmt.Errorf("registry: module %s: %w", h.Short(), wasmactor.ErrNotFound)
}

func listNewestFirst(m map[Hash]ModuleInfo) []ModuleInfo {
	out := make([]ModuleInfo, 0, len(m))
	for _, info := range m {
		out = append(out, info.normalized())
	}
	sortNewestFirst(out)
	return out
}

// memStore keeps modules in memory.
type memStore struct {
	mu   sync.RWMutex
	mods map[Hash]memModule
}

type memModule struct {
	info ModuleInfo
	wasm []byte
}

// NewMemStore returns an empty in-memory [Store].
func NewMemStore() Store { return &memStore{mods: make(map[Hash]memModule)} }

func (s *memStore) Put(info ModuleInfo, wasm []byte) error {
	if err := checkPut(info, wasm); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.mods[info.Hash]; ok {
		if info.DeployedAt > old.info.DeployedAt {
			old.info.DeployedAt = info.DeployedAt
			s.mods[info.Hash] = old
		}
		return nil
	}
	s.mods[info.Hash] = memModule{info: info.normalized(), wasm: bytes.Clone(wasm)}
	return nil
}

func (s *memStore) Get(h Hash) ([]byte, error) {
	s.mu.RLock()
	m, ok := s.mods[h]
	s.mu.RUnlock()
	if !ok {
		return nil, notFound(h)
	}
	return bytes.Clone(m.wasm), nil
}

func (s *memStore) Info(h Hash) (ModuleInfo, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	m, ok := s.mods[h]
	return m.info.normalized(), ok
}

func (s *memStore) List() []ModuleInfo {
	s.mu.RLock()
	defer s.mu.RUnlock()
	infos := make(map[Hash]ModuleInfo, len(s.mods))
	for h, m := range s.mods {
		infos[h] = m.info
	}
	return listNewestFirst(infos)
}

// File layout of a DirStore: <hex>.wasm holds the blob, <hex>.meta its
// ModuleInfo in CBOR. The meta file is written after the blob, so its
// presence means the blob was complete when written.
const (
	blobExt    = ".wasm"
	metaExt    = ".meta"
	tempPrefix = atomicfile.TempPrefix
	// maxMetaSize bounds what is read from a meta file; a valid one is a few
	// KiB at most (256 factory names of 128 bytes).
	maxMetaSize = 64 << 10
)

// DirStore is the on-disk [Store] returned by [NewDirStore].
type DirStore struct {
	dir  string
	lock *dirlock.Lock

	writeMu sync.Mutex // serialises Put's file writes and Close; never held with mu
	closed  bool       // guarded by writeMu

	mu      sync.RWMutex
	infos   map[Hash]ModuleInfo
	corrupt map[Hash]error // modules whose files are unusable, with why
}

// lockName is the file a DirStore holds locked while it is open.
const lockName = ".lock"

// NewDirStore opens (creating it with mode 0700 if needed) a module store in
// dir. It loads the info of every module already there, so a restarted node
// knows its modules without reading the blobs. Corrupt or partial entries do
// not fail the open: they are left out of List, [DirStore.Corrupt] reports
// them, Get explains the problem and a later Put of the module repairs it.
// Leftover temporary files of interrupted writes are removed.
//
// The store holds dir locked until [DirStore.Close] (or until the process
// exits): a second open, by this process or another, fails with an error
// saying the store is in use, before it touches any file, so it never
// removes the temporary files of a write in progress.
func NewDirStore(dir string) (*DirStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("registry: module store: %w", err)
	}
	lock, err := dirlock.Take(dir, lockName)
	if errors.Is(err, dirlock.ErrHeld) {
		return nil, fmt.Errorf("registry: module store %s is in use by another store", dir)
	}
	if err != nil {
		return nil, fmt.Errorf("registry: module store: %w", err)
	}
	s := &DirStore{dir: dir, lock: lock, infos: make(map[Hash]ModuleInfo), corrupt: make(map[Hash]error)}
	entries, err := os.ReadDir(dir)
	if err != nil {
		lock.Unlock()
		return nil, fmt.Errorf("registry: module store: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, tempPrefix) {
			_ = os.Remove(filepath.Join(dir, name)) // best effort: a leftover is harmless
			continue
		}
		stem, ok := strings.CutSuffix(name, metaExt)
		if !ok {
			continue
		}
		h, err := ParseHash(stem)
		if err != nil || h.String() != stem {
			continue // not ours
		}
		info, err := s.loadMeta(h)
		if err != nil {
			s.corrupt[h] = err
			continue
		}
		s.infos[h] = info
	}
	return s, nil
}

// loadMeta reads and checks one module's meta file and the blob's size.
func (s *DirStore) loadMeta(h Hash) (ModuleInfo, error) {
	b, err := readLimited(s.path(h, metaExt), maxMetaSize)
	if err != nil {
		return ModuleInfo{}, err
	}
	info, err := DecodeModuleInfo(b)
	if err != nil {
		return ModuleInfo{}, fmt.Errorf("meta file: %w", err)
	}
	if info.Hash != h {
		return ModuleInfo{}, fmt.Errorf("meta file describes module %s", info.Hash.Short())
	}
	st, err := os.Stat(s.path(h, blobExt))
	if err != nil {
		return ModuleInfo{}, fmt.Errorf("blob: %w", err)
	}
	if st.Size() != info.Size {
		return ModuleInfo{}, fmt.Errorf("blob is %d bytes, meta file says %d", st.Size(), info.Size)
	}
	return info, nil
}

func readLimited(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s is larger than %d bytes", filepath.Base(path), max)
	}
	return b, nil
}

func (s *DirStore) path(h Hash, ext string) string {
	return filepath.Join(s.dir, h.String()+ext)
}

// Corrupt reports the modules found unusable on disk (at open or by a failed
// hash check in Get), with the reason. Callers log them; fetching a module
// again from a peer and putting it repairs the entry.
func (s *DirStore) Corrupt() map[Hash]error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make(map[Hash]error, len(s.corrupt))
	for h, err := range s.corrupt {
		out[h] = err
	}
	return out
}

// Close waits for a Put in progress and releases the directory for another
// store. Put fails after Close (an error matching [wasmactor.ErrClosed]);
// reads go on working. Safe to call more than once.
func (s *DirStore) Close() error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.closed = true
	return s.lock.Unlock()
}

// Put writes the blob, then the meta file, each atomically (a temporary file
// synced, then renamed), then syncs the directory.
func (s *DirStore) Put(info ModuleInfo, wasm []byte) error {
	if err := checkPut(info, wasm); err != nil {
		return err
	}
	info = info.normalized()
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if s.closed {
		return fmt.Errorf("%w: module store %s", wasmactor.ErrClosed, s.dir)
	}

	s.mu.RLock()
	old, have := s.infos[info.Hash]
	s.mu.RUnlock()
	if have {
		// The disk may have rotted since the blob was written or last read;
		// Put is the one chance to repair it before a Get fails.
		if _, err := s.readBlob(info.Hash, old.Size); err != nil {
			if err := s.writeFile(s.path(info.Hash, blobExt), wasm); err != nil {
				return err
			}
		}
		if info.DeployedAt <= old.DeployedAt {
			return nil
		}
		old.DeployedAt = info.DeployedAt
		if err := s.writeMeta(old); err != nil {
			return err
		}
		s.mu.Lock()
		s.infos[info.Hash] = old
		s.mu.Unlock()
		return nil
	}

	if err := s.writeFile(s.path(info.Hash, blobExt), wasm); err != nil {
		return err
	}
	if err := s.writeMeta(info); err != nil {
		return err
	}
	s.mu.Lock()
	s.infos[info.Hash] = info
	delete(s.corrupt, info.Hash)
	s.mu.Unlock()
	return nil
}

// readBlob reads a stored blob and checks its size and hash.
func (s *DirStore) readBlob(h Hash, size int64) ([]byte, error) {
	b, err := readLimited(s.path(h, blobExt), size)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, errors.New("blob file is missing")
	case err != nil:
		return nil, err
	case int64(len(b)) != size:
		return nil, fmt.Errorf("blob is %d bytes, meta file says %d", len(b), size)
	case HashOf(b) != h:
		return nil, errors.New("blob does not match its hash")
	}
	return b, nil
}

func (s *DirStore) writeMeta(info ModuleInfo) error {
	b, err := EncodeModuleInfo(info)
	if err != nil {
		return fmt.Errorf("registry: encode module info: %w", err)
	}
	return s.writeFile(s.path(info.Hash, metaExt), b)
}

// writeFile replaces path atomically with content, mode 0600.
func (s *DirStore) writeFile(path string, content []byte) error {
	if err := atomicfile.Write(path, content, 0o600); err != nil {
		return fmt.Errorf("registry: write %s: %w", filepath.Base(path), err)
	}
	return nil
}

// Get reads the blob and checks its hash again: disks rot, and compiling a
// corrupt module would fail in ways far from the cause.
func (s *DirStore) Get(h Hash) ([]byte, error) {
	s.mu.RLock()
	info, ok := s.infos[h]
	bad := s.corrupt[h]
	s.mu.RUnlock()
	if !ok {
		if bad != nil {
			return nil, fmt.Errorf("registry: module %s is corrupt on disk (%v): %w", h.Short(), bad, wasmactor.ErrNotFound)
		}
		return nil, notFound(h)
	}
	b, err := s.readBlob(h, info.Size)
	if err != nil {
		s.mu.Lock()
		// Only demote the entry we read; a concurrent Put may have repaired it.
		if cur, still := s.infos[h]; still && cur.DeployedAt == info.DeployedAt {
			delete(s.infos, h)
			s.corrupt[h] = err
		}
		s.mu.Unlock()
		return nil, fmt.Errorf("registry: module %s is corrupt on disk (%v): %w", h.Short(), err, wasmactor.ErrNotFound)
	}
	return b, nil
}

func (s *DirStore) Info(h Hash) (ModuleInfo, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	info, ok := s.infos[h]
	return info.normalized(), ok
}

func (s *DirStore) List() []ModuleInfo {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return listNewestFirst(s.infos)
}

func (s *memStore) ReadAt(h Hash, p []byte, off int64) (int, error) {
	s.mu.RLock()
	m, ok := s.mods[h]
	s.mu.RUnlock()
	if !ok {
		return 0, notFound(h)
	}
	return bytes.NewReader(m.wasm).ReadAt(p, off)
}

func (s *DirStore) ReadAt(h Hash, p []byte, off int64) (int, error) {
	s.mu.RLock()
	_, ok := s.infos[h]
	s.mu.RUnlock()
	if !ok {
		return 0, notFound(h)
	}
	f, err := os.Open(s.path(h, blobExt))
	if err != nil {
		return 0, fmt.Errorf("registry: module %s: %w (%w)", h.Short(), err, wasmactor.ErrNotFound)
	}
	defer f.Close()
	return f.ReadAt(p, off)
}
