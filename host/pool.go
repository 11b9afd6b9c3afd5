package host

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/engine"
	"github.com/wasmactor/wasmactor/registry"
)

// module is a deployed module on this node with its pool of shared instances.
type module struct {
	info registry.ModuleInfo

	load gate // held while the module is pulled and compiled; see Node.module
	grow gate // held while a shared instance is added to the pool; see pick

	counters moduleCounters

	mu       sync.Mutex
	compiled *engine.Module
	// interp is the interpreter's build of a pulled module while the
	// compiler runs (Config.InterpretPulledModules, coldstart.go); nil
	// before and after. compiledCh is closed once compiled is set, or
	// compileErr if the compiler failed.
	interp     *engine.Module
	compiledCh chan struct{}
	compileErr error
	pool       []*instance            // shared instances: Config.InstancesPerModule, more when they are full
	isolated   map[*instance]struct{} // live isolated instances
	closed     bool                   // the node closed: no instance is added any more
}

func newModule(info registry.ModuleInfo, compiled *engine.Module) *module {
	return &module{info: info, compiled: compiled, load: newGate(), grow: newGate()}
}

// build is what new instances of the module run: the compiled module, or
// the interpreter's build while the compiler runs; nil before either.
func (m *module) build() *engine.Module {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.compiled != nil {
		return m.compiled
	}
	return m.interp
}

// gate is a mutex whose waiters give up when their context ends. A guest
// spawn waits on the module's gates from inside a turn: the wait must end
// with the guest call's deadline.
type gate chan struct{}

func newGate() gate { return make(gate, 1) }

func (g gate) lock(ctx context.Context) error {
	select {
	case g <- struct{}{}: // free: taken even if ctx is done
		return nil
	default:
	}
	select {
	case g <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g gate) unlock() { <-g }

// pick returns the instance a new actor is pinned to: a fresh one when
// isolated, else the pool grows to its size and then the least-populated
// member with room is chosen; when every member is full
// (Limits.ActorsPerInstance) the pool grows past its size. A new instance
// reserves its cap of the node's guest memory first (Limits.GuestMemory);
// if that is refused, a shared spawn still goes to a member with room.
//
// Instantiating runs guest code (the module's initialisation), so no lock
// that Stats, Actors or a turn's imports take is held meanwhile: isolated
// instances are made with no lock at all, and pool growth is serialised by
// m.grow alone.
func (m *module) pick(ctx context.Context, n *Node, isolated bool) (*instance, error) {
	var room *instance
	if !isolated {
		in, grow := m.choose(n.cfg.InstancesPerModule, n.cfg.Limits.ActorsPerInstance)
		if !grow {
			return in, nil
		}
		if err := m.grow.lock(ctx); err != nil {
			return nil, fmt.Errorf("%w: waiting for an instance of module %s: %w", wasmactor.ErrTimeout, m.info.Hash.Short(), err)
		}
		defer m.grow.unlock()
		if in, grow = m.choose(n.cfg.InstancesPerModule, n.cfg.Limits.ActorsPerInstance); !grow {
			return in, nil
		}
		room = in
	}
	if err := n.reserveInstance(isolated); err != nil {
		if room != nil {
			return room, nil
		}
		return nil, err
	}
	in, err := n.newInstance(ctx, m, isolated)
	if err != nil {
		n.releaseInstance(isolated)
		return nil, err
	}
	in.reserved.Store(true)
	m.mu.Lock()
	closed := m.closed
	switch {
	case closed:
	case isolated:
		if m.isolated == nil {
			m.isolated = make(map[*instance]struct{})
		}
		m.isolated[in] = struct{}{}
	default:
		m.pool = append(m.pool, in)
	}
	m.mu.Unlock()
	if closed {
		in.unreserve()
		_ = in.inst.Close(ctx)
		return nil, n.checkOpen()
	}
	return in, nil
}

// choose returns the least-populated pool member with room for one more
// actor (nil if none), and whether the pool should grow: it is under its
// size, or every member is full.
func (m *module) choose(size, perInstance int) (in *instance, grow bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	least, live := 0, 0
	for _, p := range m.pool {
		pop, retired := p.load()
		if retired {
			continue // its actors are leaving the interpreter (coldstart.go)
		}
		live++
		if pop < perInstance && (in == nil || pop < least) {
			in, least = p, pop
		}
	}
	return in, live < size || in == nil
}

// retire removes a failed or closed instance so no new actor is pinned to it.
func (m *module) retire(in *instance) {
	in.unreserve()
	m.mu.Lock()
	defer m.mu.Unlock()
	if in.isolated {
		delete(m.isolated, in)
		return
	}
	for i, p := range m.pool {
		if p == in {
			m.pool = append(m.pool[:i], m.pool[i+1:]...)
			return
		}
	}
}

func (m *module) closeAll(ctx context.Context) {
	m.mu.Lock()
	pool := m.pool
	for in := range m.isolated {
		pool = append(pool, in)
	}
	m.pool, m.isolated, m.closed = nil, nil, true
	m.mu.Unlock()
	for _, in := range pool {
		in.unreserve()
		_ = in.inst.Close(ctx)
	}
	if m.compiled != nil {
		_ = m.compiled.Close(ctx)
	}
	if m.interp != nil {
		_ = m.interp.Close(ctx)
	}
}

// ready reports whether the module can run: compiled, or built by the
// interpreter while it compiles.
func (m *module) ready() bool { return m.build() != nil }

// exports reports whether a loaded module exports factory.
func (m *module) exports(factory string) bool {
	b := m.build()
	return b != nil && slices.Contains(b.Factories(), factory)
}
