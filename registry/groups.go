package registry

import (
	"slices"
	"strings"
	"sync"

	"github.com/wasmactor/wasmactor"
)

// Membership is one PID's membership of one group; what the cluster layer
// replicates and what a joining node receives in bulk.
type Membership struct {
	Group string        `cbor:"1,keyasint" json:"group"`
	PID   wasmactor.PID `cbor:"2,keyasint" json:"pid"`
}

// Groups holds process groups in the manner of Erlang's pg: a group is a set
// of PIDs on any nodes; a PID may be in many groups. Joins and leaves are set
// operations, so replaying them is harmless.
type Groups struct {
	mu      sync.RWMutex
	members map[string]map[wasmactor.PID]struct{}
	byPID   map[wasmactor.PID]map[string]struct{}
}

// NewGroups returns an empty group table.
func NewGroups() *Groups {
	return &Groups{
		members: make(map[string]map[wasmactor.PID]struct{}),
		byPID:   make(map[wasmactor.PID]map[string]struct{}),
	}
}

// Join adds pid to group and reports whether it was not a member yet. An
// invalid group name (see [ValidateName]) or a zero PID is refused (false);
// callers validate user input with ValidateName first to report why.
func (g *Groups) Join(group string, pid wasmactor.PID) bool {
	if ValidateName(group) != nil || pid.IsZero() {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	ms := g.members[group]
	if _, ok := ms[pid]; ok {
		return false
	}
	if ms == nil {
		ms = make(map[wasmactor.PID]struct{})
		g.members[group] = ms
	}
	ms[pid] = struct{}{}
	gs := g.byPID[pid]
	if gs == nil {
		gs = make(map[string]struct{})
		g.byPID[pid] = gs
	}
	gs[group] = struct{}{}
	return true
}

// Leave removes pid from group and reports whether it was a member.
func (g *Groups) Leave(group string, pid wasmactor.PID) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.members[group][pid]; !ok {
		return false
	}
	g.drop(group, pid)
	return true
}

// drop removes a membership known to exist; the caller holds the write lock.
func (g *Groups) drop(group string, pid wasmactor.PID) {
	ms := g.members[group]
	delete(ms, pid)
	if len(ms) == 0 {
		delete(g.members, group)
	}
	gs := g.byPID[pid]
	delete(gs, group)
	if len(gs) == 0 {
		delete(g.byPID, pid)
	}
}

// Members returns the group's members sorted by [wasmactor.PID.Less]; empty
// for an unknown group.
func (g *Groups) Members(group string) []wasmactor.PID {
	g.mu.RLock()
	ms := g.members[group]
	out := make([]wasmactor.PID, 0, len(ms))
	for pid := range ms {
		out = append(out, pid)
	}
	g.mu.RUnlock()
	slices.SortFunc(out, comparePID)
	return out
}

func comparePID(a, b wasmactor.PID) int {
	switch {
	case a.Less(b):
		return -1
	case b.Less(a):
		return 1
	}
	return 0
}

// Groups returns the names of the groups with at least one member, sorted.
func (g *Groups) Groups() []string {
	g.mu.RLock()
	out := make([]string, 0, len(g.members))
	for name := range g.members {
		out = append(out, name)
	}
	g.mu.RUnlock()
	slices.Sort(out)
	return out
}

// Of returns the groups pid is in, sorted.
func (g *Groups) Of(pid wasmactor.PID) []string {
	g.mu.RLock()
	out := make([]string, 0, len(g.byPID[pid]))
	for name := range g.byPID[pid] {
		out = append(out, name)
	}
	g.mu.RUnlock()
	slices.Sort(out)
	return out
}

// List returns every membership sorted by group, then PID: the full state,
// for a node that joins the cluster.
func (g *Groups) List() []Membership {
	g.mu.RLock()
	var out []Membership
	for name, ms := range g.members {
		for pid := range ms {
			out = append(out, Membership{Group: name, PID: pid})
		}
	}
	g.mu.RUnlock()
	slices.SortFunc(out, compareMembership)
	return out
}

// RemovePID removes pid from every group (the actor died) and returns the
// groups it left, sorted.
func (g *Groups) RemovePID(pid wasmactor.PID) []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var left []string
	for name := range g.byPID[pid] {
		left = append(left, name)
	}
	for _, name := range left {
		g.drop(name, pid)
	}
	slices.Sort(left)
	return left
}

// RemoveNode removes every PID on node, whatever its incarnation, from every
// group (the node went down) and returns the memberships that ended,
// sorted by group, then PID.
func (g *Groups) RemoveNode(node string) []Membership {
	g.mu.Lock()
	var out []Membership
	for pid, gs := range g.byPID {
		if pid.Node != node {
			continue
		}
		for name := range gs {
			out = append(out, Membership{Group: name, PID: pid})
			g.drop(name, pid)
		}
	}
	g.mu.Unlock()
	slices.SortFunc(out, compareMembership)
	return out
}

func compareMembership(a, b Membership) int {
	if c := strings.Compare(a.Group, b.Group); c != 0 {
		return c
	}
	return comparePID(a.PID, b.PID)
}
