package registry

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"sync"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/atomicfile"
	"github.com/wasmactor/wasmactor/internal/cbormode"
)

// Remove drops a module from the index, whoever told of it (it was
// undeployed), and reports whether it was indexed. Its factories resolve to
// the next newest module exporting them, if any.
func (f *Factories) Remove(h Hash) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	old, ok := f.modules[h]
	if !ok {
		return false
	}
	f.unindex(old)
	delete(f.modules, h)
	delete(f.checked, h)
	return true
}

func (s *memStore) Delete(h Hash) error {
	s.mu.Lock()
	delete(s.mods, h)
	s.mu.Unlock()
	return nil
}

// Delete removes the module's meta file, then its blob: a crash in between
// leaves a blob without meta, which the store ignores.
func (s *DirStore) Delete(h Hash) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if s.closed {
		return fmt.Errorf("%w: module store %s", wasmactor.ErrClosed, s.dir)
	}
	s.mu.Lock()
	delete(s.infos, h)
	delete(s.corrupt, h)
	s.mu.Unlock()
	for _, ext := range []string{metaExt, blobExt} {
		if err := os.Remove(s.path(h, ext)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("registry: delete module %s: %w", h.Short(), err)
		}
	}
	return nil
}

// Tombstone records that a module was undeployed, and when (unix
// nanoseconds at the node that undeployed it). A node that was away when it
// happened learns of it from the others, so it does not bring the module
// back; a deploy of the same bytes after At brings it back on purpose.
type Tombstone struct {
	Hash Hash  `cbor:"1,keyasint" json:"hash"`
	At   int64 `cbor:"2,keyasint" json:"at"`
}

// Buries reports whether t hides info: the module was undeployed after it
// was (last) deployed.
func (t Tombstone) Buries(info ModuleInfo) bool {
	return t.Hash == info.Hash && info.DeployedAt <= t.At
}

// MaxTombstones bounds the tombstones a node keeps: beyond it, the oldest
// go (a module undeployed that long ago is unlikely to come back from a
// node that was away all that time).
const MaxTombstones = 4096

// Tombstones is the set of undeployed modules, kept in a file when it has
// one. Safe for concurrent use.
type Tombstones struct {
	path string // "" for memory only

	mu sync.RWMutex
	m  map[Hash]int64
}

// LoadTombstones reads the tombstones kept in path ("" for none and no
// file). A missing file is an empty set.
func LoadTombstones(path string) (*Tombstones, error) {
	t := &Tombstones{path: path, m: make(map[Hash]int64)}
	if path == "" {
		return t, nil
	}
	b, err := readLimited(path, MaxTombstones*64)
	if errors.Is(err, fs.ErrNotExist) {
		return t, nil
	}
	if err != nil {
		return nil, fmt.Errorf("registry: tombstones: %w", err)
	}
	var list []Tombstone
	if err := cbormode.Strict().Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("registry: tombstones in %s: %w", path, err)
	}
	for _, x := range list {
		t.m[x.Hash] = max(t.m[x.Hash], x.At)
	}
	return t, nil
}

// Add records x (keeping the later time of two for one module) and saves
// the set; it reports whether the set changed.
func (t *Tombstones) Add(x Tombstone) (bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if at, ok := t.m[x.Hash]; ok && at >= x.At {
		return false, nil
	}
	t.m[x.Hash] = x.At
	for len(t.m) > MaxTombstones {
		oldest, first := Hash{}, true
		for h, at := range t.m {
			if first || at < t.m[oldest] {
				oldest, first = h, false
			}
		}
		delete(t.m, oldest)
	}
	return true, t.save()
}

// Remove forgets the tombstone of h (the module was deployed again).
func (t *Tombstones) Remove(h Hash) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.m[h]; !ok {
		return nil
	}
	delete(t.m, h)
	return t.save()
}

// Buries reports whether a tombstone hides info (see [Tombstone.Buries]).
func (t *Tombstones) Buries(info ModuleInfo) bool {
	t.mu.RLock()
	at, ok := t.m[info.Hash]
	t.mu.RUnlock()
	return ok && Tombstone{Hash: info.Hash, At: at}.Buries(info)
}

// Has reports whether h has a tombstone.
func (t *Tombstones) Has(h Hash) bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	_, ok := t.m[h]
	return ok
}

// List returns every tombstone, by time.
func (t *Tombstones) List() []Tombstone {
	t.mu.RLock()
	out := make([]Tombstone, 0, len(t.m))
	for h, at := range t.m {
		out = append(out, Tombstone{Hash: h, At: at})
	}
	t.mu.RUnlock()
	slices.SortFunc(out, func(a, b Tombstone) int {
		if a.At != b.At {
			return int(min(max(a.At-b.At, -1), 1))
		}
		return slices.Compare(a.Hash[:], b.Hash[:])
	})
	return out
}

// save writes the set; the caller holds t.mu.
func (t *Tombstones) save() error {
	if t.path == "" {
		return nil
	}
	list := make([]Tombstone, 0, len(t.m))
	for h, at := range t.m {
		list = append(list, Tombstone{Hash: h, At: at})
	}
	b, err := cbormode.Deterministic().Marshal(list)
	if err != nil {
		return fmt.Errorf("registry: tombstones: %w", err)
	}
	if err := atomicfile.Write(t.path, b, 0o600); err != nil {
		return fmt.Errorf("registry: tombstones: %w", err)
	}
	return nil
}

// Handover gives every name old holds to new, an actor that moved: the
// same on every node, whatever else is in flight, since only the names old
// holds here change, and each keeps its place (the time it was taken here)
// and the claims waiting behind it. Claims old has waiting for other names
// are withdrawn. It returns the names handed over, sorted.
func (n *Names) Handover(old, new wasmactor.PID) []string {
	if old == new || new.IsZero() || new.Node == "" {
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	names := slices.Clone(n.byPID[old])
	for _, name := range names {
		h := n.byName[name]
		since := h.since
		n.remove(h.Claim)
		n.set(Claim{Name: name, PID: new})
		h = n.byName[name]
		h.since = since
		n.byName[name] = h
	}
	if n.waitsOf[old] > 0 {
		n.dropWaitingWhere(func(w Claim) bool { return w.PID == old })
	}
	slices.Sort(names)
	return names
}

// Replace moves every group membership of old to new, an actor that moved,
// and returns the groups, sorted.
func (g *Groups) Replace(old, new wasmactor.PID) []string {
	if old == new || new.IsZero() {
		return nil
	}
	g.mu.Lock()
	var groups []string
	for group := range g.byPID[old] {
		groups = append(groups, group)
	}
	for _, group := range groups {
		g.drop(group, old)
	}
	g.mu.Unlock()
	for _, group := range groups {
		g.Join(group, new)
	}
	slices.Sort(groups)
	return groups
}
