package registry

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/wasmactor/wasmactor"
)

// minPinPrefix is the shortest hash prefix accepted in Factory@prefix: two
// bytes make accidental matches unlikely among a cluster's modules while
// staying easy to type.
const minPinPrefix = 4

// MaxAnnouncedFactories bounds the factory names a module this node has not
// checked can gather from announcements (see [Factories.Announce]): twice
// what one module may export, so one announcer's list cannot crowd out
// another's.
const MaxAnnouncedFactories = 2 * maxFactories

// Factories indexes deployed modules by the factories they export, so a
// factory reference resolves to one module the same way on every node.
//
// A module's factory list is known in one of two ways. A list this node
// derived from the module's bytes (it deployed, pulled or stored the module)
// is checked: [Factories.Add]. A list other nodes announced is a hint:
// [Factories.Announce]. A checked list replaces a hint and no announcement
// changes a checked list; hints for one module are merged, so a list that
// lacks a factory cannot hide it, and a name a module does not export is
// found out when the module is pulled and checked.
type Factories struct {
	mu        sync.RWMutex
	modules   map[Hash]ModuleInfo
	checked   map[Hash]bool // lists derived from the module's bytes here
	byFactory map[string][]Hash
}

// NewFactories returns an empty index.
func NewFactories() *Factories {
	return &Factories{modules: make(map[Hash]ModuleInfo), checked: make(map[Hash]bool), byFactory: make(map[string][]Hash)}
}

// Add indexes a module whose factory list this node derived from its bytes.
// It replaces a list only announced so far. It reports whether the index
// changed: true for a new hash or a replaced list, and also when a known hash
// comes with a later DeployedAt (redeploying an older module makes it the
// newest again; every node keeps the maximum, so the result does not depend
// on the order announcements arrive). An info that fails
// [ModuleInfo.Validate] is not indexed and Add reports false; callers that
// need the reason validate first.
func (f *Factories) Add(info ModuleInfo) bool {
	info, ok := valid(info)
	if !ok {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	old, ok := f.modules[info.Hash]
	switch {
	case !ok:
		f.index(info)
	case !f.checked[info.Hash]:
		info.DeployedAt = max(info.DeployedAt, old.DeployedAt)
		f.unindex(old)
		f.index(info)
	case info.DeployedAt > old.DeployedAt:
		old.DeployedAt = info.DeployedAt
		f.modules[info.Hash] = old
	default:
		return false
	}
	f.checked[info.Hash] = true
	return true
}

// Announce indexes a module as another node announced it: a new hash with
// the announced factory list; a hash known only from announcements gains the
// factory names it lacked (up to [MaxAnnouncedFactories] in all); the list of
// a hash this node checked never changes. DeployedAt is merged as in Add. It
// reports whether the index changed; an invalid info is ignored.
func (f *Factories) Announce(info ModuleInfo) bool {
	info, ok := valid(info)
	if !ok {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	old, ok := f.modules[info.Hash]
	if !ok {
		f.index(info)
		return true
	}
	changed := false
	if info.DeployedAt > old.DeployedAt {
		old.DeployedAt = info.DeployedAt
		changed = true
	}
	if !f.checked[info.Hash] {
		// Copy on write: ResolveShared hands the stored list out.
		old.Factories = slices.Clone(old.Factories)
		for _, name := range info.Factories {
			if len(old.Factories) >= MaxAnnouncedFactories {
				break
			}
			if !slices.Contains(old.Factories, name) {
				old.Factories = append(old.Factories, name)
				f.byFactory[name] = append(f.byFactory[name], info.Hash)
				changed = true
			}
		}
		slices.Sort(old.Factories)
	}
	f.modules[info.Hash] = old
	return changed
}

// valid returns info normalized, or false if it fails [ModuleInfo.Validate].
func valid(info ModuleInfo) (ModuleInfo, bool) {
	if info.Validate() != nil {
		return ModuleInfo{}, false
	}
	return info.normalized(), true
}

// Forget drops a module whose list this node has not checked (its last
// announcer went away) and reports whether it did.
func (f *Factories) Forget(h Hash) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	old, ok := f.modules[h]
	if !ok || f.checked[h] {
		return false
	}
	f.unindex(old)
	delete(f.modules, h)
	return true
}

// Checked reports whether the module's factory list was derived from its
// bytes on this node ([Factories.Add]) rather than announced.
func (f *Factories) Checked(h Hash) bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.checked[h]
}

// index records info under each of its factories; the caller holds the
// write lock and info's hash is not indexed.
func (f *Factories) index(info ModuleInfo) {
	// The stored list is the registry's own, sorted, and never modified
	// once stored (ResolveShared hands it out).
	info = info.normalized()
	f.modules[info.Hash] = info
	for _, name := range info.Factories {
		f.byFactory[name] = append(f.byFactory[name], info.Hash)
	}
}

// unindex removes info's hash from its factories' entries; the caller holds
// the write lock.
func (f *Factories) unindex(info ModuleInfo) {
	for _, name := range info.Factories {
		hs := slices.DeleteFunc(f.byFactory[name], func(h Hash) bool { return h == info.Hash })
		if len(hs) == 0 {
			delete(f.byFactory, name)
		} else {
			f.byFactory[name] = hs
		}
	}
}

// Resolve turns a factory reference into the factory name and the module to
// instantiate.
//
// "Counter" names the newest module exporting Counter: the largest
// DeployedAt, ties broken by the larger hash. "Counter@ab12" names the module
// exporting Counter whose hash starts with the hex prefix (at least 4 digits,
// either case).
//
// # Errors
//
// The error wraps [wasmactor.ErrBadArgument] for a malformed reference,
// [wasmactor.ErrUnknownFactory] when no module matches and
// [wasmactor.ErrAmbiguousFactory] when a prefix matches several.
func (f *Factories) Resolve(ref string) (factory string, m ModuleInfo, err error) {
	factory, m, err = f.ResolveShared(ref)
	return factory, m.normalized(), err
}

// ResolveShared is [Factories.Resolve] without the copy of the module's
// factory list: the returned m.Factories is the registry's own and must not
// be modified. It is for hot paths (every spawn resolves its factory).
func (f *Factories) ResolveShared(ref string) (factory string, m ModuleInfo, err error) {
	factory, prefix, pinned := strings.Cut(ref, "@")
	if err := ValidateFactory(factory); err != nil {
		return "", ModuleInfo{}, fmt.Errorf("factory reference %q: %w", clip(ref), err)
	}
	if pinned {
		if len(prefix) < minPinPrefix || len(prefix) > 2*len(Hash{}) || !isHex(prefix) {
			return "", ModuleInfo{}, fmt.Errorf("%w: factory reference %q: the version after @ must be %d to %d hex digits of a module hash",
				wasmactor.ErrBadArgument, clip(ref), minPinPrefix, 2*len(Hash{}))
		}
		prefix = strings.ToLower(prefix)
	}

	f.mu.RLock()
	defer f.mu.RUnlock()
	hashes := f.byFactory[factory]
	if len(hashes) == 0 {
		return "", ModuleInfo{}, fmt.Errorf("%w: no deployed module exports %q", wasmactor.ErrUnknownFactory, factory)
	}
	if !pinned {
		best := f.modules[hashes[0]]
		for _, h := range hashes[1:] {
			if m := f.modules[h]; newer(m, best) {
				best = m
			}
		}
		return factory, best, nil
	}
	var matches []ModuleInfo
	for _, h := range hashes {
		if strings.HasPrefix(h.String(), prefix) {
			matches = append(matches, f.modules[h])
		}
	}
	switch len(matches) {
	case 0:
		return "", ModuleInfo{}, fmt.Errorf("%w: no deployed module exporting %q has a hash starting with %s", wasmactor.ErrUnknownFactory, factory, prefix)
	case 1:
		return factory, matches[0], nil
	}
	sortNewestFirst(matches)
	shorts := make([]string, len(matches))
	for i, m := range matches {
		shorts[i] = m.Hash.Short()
	}
	return "", ModuleInfo{}, fmt.Errorf("%w: %s@%s matches %d modules (%s); give more digits",
		wasmactor.ErrAmbiguousFactory, factory, prefix, len(matches), strings.Join(shorts, ", "))
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// Modules lists every indexed module, newest first.
func (f *Factories) Modules() []ModuleInfo {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return listNewestFirst(f.modules)
}

// Lookup returns the indexed info of a module.
func (f *Factories) Lookup(h Hash) (ModuleInfo, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	m, ok := f.modules[h]
	return m.normalized(), ok
}
