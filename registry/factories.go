package registry

import (
	"fmt"
	"strings"
	"sync"

	"github.com/wasmactor/wasmactor"
)

// minPinPrefix is the shortest hash prefix accepted in Factory@prefix: two
// bytes make accidental matches unlikely among a cluster's modules while
// staying easy to type.
const minPinPrefix = 4

// Factories indexes deployed modules by the factories they export, so a
// factory reference resolves to one module the same way on every node.
type Factories struct {
	mu        sync.RWMutex
	modules   map[Hash]ModuleInfo
	byFactory map[string][]Hash
}

// NewFactories returns an empty index.
func NewFactories() *Factories {
	return &Factories{modules: make(map[Hash]ModuleInfo), byFactory: make(map[string][]Hash)}
}

// Add indexes a module. It reports whether the index changed: true for a new
// hash, and also when a known hash comes with a later DeployedAt (redeploying
// an older module makes it the newest again; every node keeps the maximum, so
// the result does not depend on the order announcements arrive). An info that
// fails [ModuleInfo.Validate] is not indexed and Add reports false; callers
// that need the reason validate first.
func (f *Factories) Add(info ModuleInfo) bool {
	if info.Validate() != nil {
		return false
	}
	info = info.normalized()
	f.mu.Lock()
	defer f.mu.Unlock()
	if old, ok := f.modules[info.Hash]; ok {
		if info.DeployedAt <= old.DeployedAt {
			return false
		}
		old.DeployedAt = info.DeployedAt
		f.modules[info.Hash] = old
		return true
	}
	f.modules[info.Hash] = info
	for _, name := range info.Factories {
		f.byFactory[name] = append(f.byFactory[name], info.Hash)
	}
	return true
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
		return factory, best.normalized(), nil
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
		return factory, matches[0].normalized(), nil
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
