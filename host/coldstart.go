package host

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/wasmactor/wasmactor"
)

// This file runs a module the node has just pulled on wazero's interpreter
// while the optimizing compiler compiles it (Config.InterpretPulledModules):
// a cold remote spawn answers in the interpreter's build time (about a
// fifth of the compiler's for a 4 MB Go guest, docs/figures-perf.md)
// instead of the compiler's.
//
//  1. Node.module builds the pulled module with the interpreter, publishes
//     that build (module.interp) and hands its load gate to
//     compileInBackground, which holds it until the handover is done (an
//     undeploy waits for it).
//  2. Spawns of factories the module lists as snapshotting
//     (wasmactor_snapshotters) start at once on interpreted instances;
//     spawns of the others wait for the compiler (module.await): an actor
//     that cannot snapshot could never leave the interpreter.
//  3. Once compiled, the module's new instances run the compiled code;
//     every interpreted instance is retired (no actor is pinned to it any
//     more) and each of its actors moves to a compiled instance as in a hot
//     upgrade to the same module: snapshot at a message boundary, restore,
//     commit, its queued messages following in order (mobility.go).
//  4. A retired instance closes itself once its last actor has left
//     (closeIfIdle), an isolated one at once (discard); the interpreter's
//     build is closed after the moves.
//
// An actor that cannot move (its Snapshot fails, or its asks never settle
// within AskTimeout, three times) stays on the interpreter and is logged;
// its instance closes when the actor ends.

// loadPulled builds a pulled module on the interpreter and starts the
// compiler behind it; it reports false (and does nothing) when the node
// runs no interpreter or is closing. The caller holds m.load and, on true,
// leaves it to the background compile.
func (n *Node) loadPulled(ctx context.Context, m *module, wasm []byte) (ok bool, err error) {
	if n.interp == nil {
		return false, nil
	}
	start := time.Now()
	b, err := n.interp.Compile(ctx, wasm)
	if err != nil {
		return false, err
	}
	m.mu.Lock()
	m.interp, m.compiledCh, m.compileErr = b, make(chan struct{}), nil
	m.mu.Unlock()
	if !n.goBackground(func() { n.compileInBackground(m, wasm) }) {
		m.mu.Lock()
		m.interp, m.compiledCh = nil, nil
		m.mu.Unlock()
		_ = b.Close(context.Background())
		return false, n.checkOpen()
	}
	n.log.Info("module runs on the interpreter while it compiles", "module", m.info.Hash.Short(), "took", time.Since(start))
	return true, nil
}

// compileInBackground compiles m with the optimizing compiler, makes the
// compiled code the module's, and moves the interpreted instances' actors
// to it. It releases m.load when done.
func (n *Node) compileInBackground(m *module, wasm []byte) {
	defer m.load.unlock()
	if n.coldHold != nil { // tests: the compiler is slow until they say
		select {
		case <-n.coldHold:
		case <-n.life.Done():
		}
	}
	start := time.Now()
	c, err := n.compile(n.life, wasm)
	m.mu.Lock()
	switch {
	case err != nil:
		m.compileErr = err
	case m.closed:
		_ = c.Close(context.Background())
	default:
		m.compiled = c
	}
	close(m.compiledCh)
	m.mu.Unlock()
	if err != nil {
		if n.life.Err() == nil {
			n.log.Error("module did not compile; its actors stay on the interpreter", "module", m.info.Hash.Short(), "err", err)
		}
		return
	}
	moved, stayed := n.handOver(m)
	n.log.Info("module compiled; its actors left the interpreter", "module", m.info.Hash.Short(),
		"compile", time.Since(start), "moved", moved, "stayed", stayed)
}

// await returns once an actor of factory may be placed in m: at once if m
// is compiled or factory's actors snapshot (they can leave the interpreter
// later), else when the compiler is done.
func (m *module) await(ctx context.Context, factory string) error {
	m.mu.Lock()
	ch := m.compiledCh
	wait := m.compiled == nil && m.interp != nil && !slices.Contains(m.interp.Snapshotters(), factory)
	m.mu.Unlock()
	if !wait {
		return nil
	}
	select {
	case <-ch:
	case <-ctx.Done():
		return fmt.Errorf("%w: waiting for module %s to compile: %w", wasmactor.ErrTimeout, m.info.Hash.Short(), ctx.Err())
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.compileErr != nil {
		return fmt.Errorf("%w: module %s: %w", wasmactor.ErrModuleUnavailable, m.info.Hash.Short(), m.compileErr)
	}
	return nil
}

// handOver retires m's interpreted instances and moves their actors to
// compiled ones, then closes the interpreter's build.
func (n *Node) handOver(m *module) (moved, stayed int) {
	m.mu.Lock()
	var old []*instance
	for _, in := range m.pool {
		if in.interp {
			old = append(old, in)
		}
	}
	for in := range m.isolated {
		if in.interp {
			old = append(old, in)
		}
	}
	m.mu.Unlock()
	type pinned struct {
		a  *actor
		in *instance
	}
	var todo []pinned
	for _, in := range old {
		in.mu.Lock()
		in.retired = true // adopt refuses it from now on
		for _, a := range in.actors {
			todo = append(todo, pinned{a, in})
		}
		idle := len(in.actors) == 0 && !in.dead
		in.mu.Unlock()
		if idle {
			in.task.Wake() // closes it (closeIfIdle)
		}
	}
	for try := 0; try < 3 && len(todo) > 0 && n.life.Err() == nil; try++ {
		var again []pinned
		for _, p := range todo {
			if err := n.leaveInterpreter(m, p.a, p.in); err != nil {
				n.log.Debug("actor not moved off the interpreter yet", "pid", n.pidOf(p.a).String(), "err", err)
				again = append(again, p)
				continue
			}
			moved++
		}
		todo = again
	}
	for _, p := range todo {
		n.log.Warn("actor stays on the interpreter", "pid", n.pidOf(p.a).String(), "factory", p.a.factory, "module", m.info.Hash.Short())
	}
	m.mu.Lock()
	b := m.interp
	m.interp = nil
	m.mu.Unlock()
	if b != nil {
		// Safe with instances still running (wazero's CompiledModule.Close).
		_ = b.Close(context.Background())
	}
	return moved, len(todo)
}

// leaveInterpreter moves a from its interpreted instance from to a
// compiled instance of m, as a hot upgrade to the same module would
// (upgradeLocal). An actor that died or left from meanwhile counts as
// moved.
func (n *Node) leaveInterpreter(m *module, a *actor, from *instance) error {
	if a.inst.Load() != from || !a.alive() {
		return nil
	}
	ctx, cancel := context.WithTimeout(n.life, n.cfg.AskTimeout)
	defer cancel()
	dst, err := m.pick(ctx, n, from.isolated)
	if err != nil {
		return err
	}
	abandon := func() {
		if dst.isolated {
			dst.discard()
		}
	}
	state, mv, err := n.quietSnapshot(ctx, a)
	if err != nil {
		abandon()
		if !a.alive() {
			return nil
		}
		return err
	}
	if mv.from != from { // restarted or moved meanwhile
		n.thaw(a, mv)
		abandon()
		return nil
	}
	if err := dst.restore(a, state); err != nil {
		n.thaw(a, mv)
		abandon()
		return err
	}
	if !n.commit(a, mv, dst, m) {
		dst.drop(a)
		n.thaw(a, mv)
		abandon()
		return nil // it exited meanwhile
	}
	if from.isolated {
		from.discard()
	} else {
		from.drop(a)
	}
	return nil
}
