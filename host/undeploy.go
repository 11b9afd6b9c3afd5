package host

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/engine"
	"github.com/wasmactor/wasmactor/internal/proto"
	"github.com/wasmactor/wasmactor/registry"
)

// ReasonUndeployed is the exit reason of actors stopped because their
// module was undeployed (Undeploy with Force).
const ReasonUndeployed = "undeployed"

// UndeployOptions are the options of [Node.Undeploy].
type UndeployOptions struct {
	// Force stops the module's actors first (reason "undeployed"; their
	// instances are freed at once, so their Terminate does not run).
	// Without it, a module with live actors anywhere is not undeployed.
	Force bool
}

// UndeployReport is what an undeploy did.
type UndeployReport struct {
	Module ModuleInfo `json:"module"`
	// Nodes are this node and every member, in name order: the actors each
	// stopped, or why it did not answer.
	Nodes []UndeployNode `json:"nodes"`
}

// UndeployNode is one node's part of an undeploy.
type UndeployNode struct {
	Node    string `json:"node"`
	Stopped int    `json:"stopped"`
	Error   string `json:"error,omitempty"`
}

// Undeploy removes a module from the cluster: every node drops it from its
// factory index (a factory then resolves to its previous newest version,
// if any), deletes its stored bytes, and frees its compiled code and its
// instances. ref is a hash prefix (at least 4 hex digits) or
// Factory@<hash prefix>.
//
// A tombstone keeps it gone: a node that was away learns it when it comes
// back, deletes its copy, and its announcement of the module is ignored.
// Deploying the same bytes again later brings the module back.
//
// # Errors
//
// [wasmactor.ErrInUse] when actors of the module run anywhere and Force is
// not set (nothing changed); [wasmactor.ErrNodeDown] when a member did not
// say whether it runs any (Force undeploys anyway);
// [wasmactor.ErrNotFound] for no such module; [wasmactor.ErrAmbiguousFactory]
// for a prefix of several.
func (n *Node) Undeploy(ctx context.Context, ref string, opts UndeployOptions) (UndeployReport, error) {
	if err := n.checkOpen(); err != nil {
		return UndeployReport{}, err
	}
	info, err := n.findModule(ref)
	if err != nil {
		return UndeployReport{}, err
	}
	rep := UndeployReport{Module: info}
	if !opts.Force {
		use, silent := n.moduleUse(ctx)
		if len(silent) > 0 {
			return rep, fmt.Errorf("%w: %s did not say whether they run actors of module %s; use Force to undeploy anyway",
				wasmactor.ErrNodeDown, strings.Join(silent, ", "), info.Hash.Short())
		}
		var where []string
		total := 0
		for node, counts := range use {
			if k := counts[info.Hash]; k > 0 {
				total += k
				where = append(where, fmt.Sprintf("%s: %d", node, k))
			}
		}
		if total > 0 {
			sort.Strings(where)
			return rep, fmt.Errorf("%w: %d actors run module %s (%s); stop them, upgrade them, or use Force",
				wasmactor.ErrInUse, total, info.Hash.Short(), strings.Join(where, ", "))
		}
	}
	// Later than the deploy it undoes, even if that node's clock is ahead.
	t := registry.Tombstone{Hash: info.Hash, At: max(time.Now().UnixNano(), info.DeployedAt+1)}
	rep.Nodes = append(rep.Nodes, UndeployNode{Node: n.cfg.Name, Stopped: n.applyUndeploy(t)})
	members := n.Members()
	answers := make([]UndeployNode, len(members))
	var wg sync.WaitGroup
	for i, m := range members {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			var r proto.UndeployApplied
			answers[i] = UndeployNode{Node: m.Name}
			if err := n.call(cctx, m.Name, proto.KindUndeployApply, proto.UndeployApply{Tombstone: t}, &r); err != nil {
				answers[i].Error = err.Error()
				return
			}
			answers[i].Stopped = r.Stopped
		})
	}
	wg.Wait()
	rep.Nodes = append(rep.Nodes, answers...)
	sort.Slice(rep.Nodes, func(i, j int) bool { return rep.Nodes[i].Node < rep.Nodes[j].Node })
	n.log.Info("module undeployed", "module", info.Hash.Short(), "factories", info.Factories, "force", opts.Force)
	return rep, nil
}

// findModule resolves Undeploy's ref among the modules this node knows.
func (n *Node) findModule(ref string) (ModuleInfo, error) {
	if strings.Contains(ref, "@") {
		_, info, err := n.factories.Resolve(ref)
		return info, err
	}
	prefix := strings.ToLower(ref)
	if len(prefix) < 4 || len(prefix) > 64 || strings.Trim(prefix, "0123456789abcdef") != "" {
		return ModuleInfo{}, fmt.Errorf("%w: %q: name a module by 4 to 64 hex digits of its hash, or Factory@<hash prefix>", wasmactor.ErrBadArgument, ref)
	}
	var found []ModuleInfo
	seen := map[registry.Hash]bool{}
	for _, info := range append(n.factories.Modules(), n.store.List()...) {
		if !seen[info.Hash] && strings.HasPrefix(info.Hash.String(), prefix) {
			seen[info.Hash] = true
			found = append(found, info)
		}
	}
	switch len(found) {
	case 0:
		return ModuleInfo{}, fmt.Errorf("%w: no deployed module has a hash starting with %s", wasmactor.ErrNotFound, prefix)
	case 1:
		return found[0], nil
	}
	return ModuleInfo{}, fmt.Errorf("%w: %s is the start of %d modules' hashes; give more digits", wasmactor.ErrAmbiguousFactory, prefix, len(found))
}

// moduleUse counts the live actors per module on this node and every
// member; silent lists the members that did not answer.
func (n *Node) moduleUse(ctx context.Context) (use map[string]map[registry.Hash]int, silent []string) {
	use = map[string]map[registry.Hash]int{n.cfg.Name: n.localModuleUse()}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, m := range n.Members() {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			var counts []proto.ModuleCount
			err := n.call(cctx, m.Name, proto.KindModuleUse, proto.Empty{}, &counts)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				silent = append(silent, m.Name)
				return
			}
			c := make(map[registry.Hash]int, len(counts))
			for _, x := range counts {
				c[x.Hash] += x.Actors
			}
			use[m.Name] = c
		})
	}
	wg.Wait()
	sort.Strings(silent)
	return use, silent
}

func (n *Node) localModuleUse() map[registry.Hash]int {
	c := map[registry.Hash]int{}
	for _, a := range n.actors.all() {
		if a.alive() && a.goa == nil {
			c[a.mod.Load().info.Hash]++
		}
	}
	return c
}

// applyUndeploy undeploys a module here: its actors stop (reason
// "undeployed"), it leaves the index, the store and the holder table, and
// its instances and compiled code are freed. The tombstone is kept. A
// module deployed here again after the tombstone's time is left alone. It
// returns how many actors it stopped.
func (n *Node) applyUndeploy(t registry.Tombstone) (stopped int) {
	if info, ok := n.store.Info(t.Hash); ok && !t.Buries(info) {
		return 0
	}
	if info, ok := n.factories.Lookup(t.Hash); ok && !t.Buries(info) {
		return 0
	}
	if _, err := n.tombs.Add(t); err != nil {
		n.log.Warn("tombstone not saved", "module", t.Hash.Short(), "err", err)
	}
	for _, a := range n.actors.all() {
		if a.goa == nil && a.mod.Load().info.Hash == t.Hash && a.alive() {
			n.exit(a, ReasonUndeployed, true, false)
			stopped++
		}
	}
	n.factories.Remove(t.Hash)
	if err := n.store.Delete(t.Hash); err != nil {
		n.log.Warn("undeployed module not deleted from the store", "module", t.Hash.Short(), "err", err)
	}
	n.cl.mu.Lock()
	for h := range n.cl.holders[t.Hash] {
		if n.cl.held[h]--; n.cl.held[h] <= 0 {
			delete(n.cl.held, h)
		}
	}
	delete(n.cl.holders, t.Hash)
	n.cl.mu.Unlock()
	n.modMu.Lock()
	m := n.modules[t.Hash]
	delete(n.modules, t.Hash)
	n.modMu.Unlock()
	if m != nil {
		m.unload()
	}
	return stopped
}

// unload frees a module that left the node's map: its instances (each
// between two turns) and its compiled code.
func (m *module) unload() {
	m.mu.Lock()
	all := append([]*instance(nil), m.pool...)
	for in := range m.isolated {
		all = append(all, in)
	}
	m.mu.Unlock()
	for _, in := range all {
		in.discard()
	}
	_ = m.load.lock(context.Background()) // a load in progress finishes first
	m.mu.Lock()
	c, b := m.compiled, m.interp // b: the interpreter's, if its compile failed (coldstart.go)
	m.compiled, m.interp = nil, nil
	m.mu.Unlock()
	m.load.unlock()
	for _, x := range []*engine.Module{c, b} {
		if x != nil {
			_ = x.Close(context.Background())
		}
	}
}

// buried reports whether a module was undeployed after it was deployed:
// its announcements are ignored and it is neither pulled nor compiled.
func (n *Node) buried(info ModuleInfo) bool { return n.tombs.Buries(info) }

// unburyOnDeploy forgets the tombstone of a module deployed here again.
func (n *Node) unburyOnDeploy(h registry.Hash) {
	if err := n.tombs.Remove(h); err != nil {
		n.log.Warn("tombstone not removed", "module", h.Short(), "err", err)
	}
}

// sendTombstones tells a peer that came up which modules were undeployed,
// so it deletes its copies.
func (n *Node) sendTombstones(peer string) {
	if list := n.tombs.List(); len(list) > 0 {
		n.castMust(peer, proto.KindUndeploy, proto.Tombstones{List: list})
	}
}

// handleTombstones applies the tombstones a peer sent.
func (n *Node) handleTombstones(from string, body []byte) error {
	var ts proto.Tombstones
	if err := proto.Unmarshal(body, &ts); err != nil {
		return err
	}
	if len(ts.List) > registry.MaxTombstones {
		return fmt.Errorf("%w: %d tombstones from %s, at most %d", wasmactor.ErrBadArgument, len(ts.List), from, registry.MaxTombstones)
	}
	for _, t := range ts.List {
		if k := n.applyUndeploy(t); k > 0 {
			n.log.Warn("actors of an undeployed module stopped", "module", t.Hash.Short(), "actors", k, "told by", from)
		}
	}
	return nil
}

// tombstonePath is where a node with a data dir keeps its tombstones.
func tombstonePath(cfg Config) string {
	if cfg.DataDir == "" {
		return ""
	}
	return filepath.Join(cfg.DataDir, "tombstones")
}

// moduleStatuses is the `modules` listing: every module the index knows,
// newest first, with its holders, its actors per node and the factories it
// is the newest version of.
func (n *Node) moduleStatuses(ctx context.Context) []proto.ModuleStatus {
	use, _ := n.moduleUse(ctx)
	var out []proto.ModuleStatus
	for _, info := range n.factories.Modules() {
		ms := proto.ModuleStatus{Info: info, Holders: n.holdersOf(info.Hash)}
		for node, counts := range use {
			if k := counts[info.Hash]; k > 0 {
				if ms.Actors == nil {
					ms.Actors = map[string]int{}
				}
				ms.Actors[node] = k
			}
		}
		for _, f := range info.Factories {
			if _, best, err := n.factories.Resolve(f); err == nil && best.Hash == info.Hash {
				ms.Newest = append(ms.Newest, f)
			}
		}
		out = append(out, ms)
	}
	return out
}

// serveLifecycle answers the module lifecycle requests; ok is false for
// other kinds.
func (n *Node) serveLifecycle(ctx context.Context, kind uint16, body []byte) (reply []byte, ok bool, err error) {
	switch kind {
	case proto.KindUndeployApply:
		var u proto.UndeployApply
		if err := proto.Unmarshal(body, &u); err != nil {
			return nil, true, err
		}
		return proto.Marshal(proto.UndeployApplied{Stopped: n.applyUndeploy(u.Tombstone)}), true, nil
	case proto.KindModuleUse:
		var out []proto.ModuleCount
		for h, k := range n.localModuleUse() {
			out = append(out, proto.ModuleCount{Hash: h, Actors: k})
		}
		return proto.Marshal(out), true, nil
	case proto.KindUndeployCLI:
		var u proto.UndeployRequest
		if err := proto.Unmarshal(body, &u); err != nil {
			return nil, true, err
		}
		rep, err := n.Undeploy(ctx, u.Ref, UndeployOptions{Force: u.Force})
		if err != nil {
			return nil, true, err
		}
		out := proto.UndeployReply{Module: rep.Module}
		for _, x := range rep.Nodes {
			out.Nodes = append(out.Nodes, proto.UndeployNode(x))
		}
		return proto.Marshal(out), true, nil
	}
	return nil, false, nil
}
