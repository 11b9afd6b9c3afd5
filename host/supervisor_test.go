package host_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/host"
	"github.com/wasmactor/wasmactor/internal/guestbuild/guestbuildtest"
)

// Supervision trees of the guest SDK (actor.Supervisor) on a real node,
// built from testdata/guests/supervisor. Every Worker tells a Go actor
// (the reporter) when it starts, so the tests wait on restarts as events.
// Supervisors and workers are spawned isolated: a worker's crash takes
// only its own instance down.

// The guest's tree spec (see testdata/guests/supervisor).
type tree struct {
	Strategy    string      `cbor:"strategy,omitempty"`
	MaxRestarts int         `cbor:"max_restarts,omitempty"`
	PeriodMS    int64       `cbor:"period_ms,omitempty"`
	Children    []treeChild `cbor:"children"`
}

type treeChild struct {
	Name     string `cbor:"name"`
	Factory  string `cbor:"factory"`
	Restart  string `cbor:"restart"`
	Isolated bool   `cbor:"isolated"`
	Node     string `cbor:"node,omitempty"`
	Args     any    `cbor:"args,omitempty"`
}

// hour keeps restarts of a test inside one intensity period however slow
// the machine.
const hour = 3600 * 1000

// "restart intensity exceeded", actor.ReasonRestartIntensity in the SDK.
const reasonIntensity = "restart intensity exceeded"

type supEnv struct {
	n      *host.Node
	report host.PID
	notes  chan string
}

func newSupEnv(t *testing.T) *supEnv {
	t.Helper()
	n := newNode(t, host.Config{})
	deploy(t, n, guestbuildtest.Build(t, "testdata/guests/supervisor"))
	return newSupEnvOn(t, n)
}

// newSupEnvOn is newSupEnv on a node that has the guest already.
func newSupEnvOn(t *testing.T, n *host.Node) *supEnv {
	t.Helper()
	s := &supEnv{n: n, notes: make(chan string, 64)}
	var err error
	s.report, err = s.n.SpawnFunc(ctxT(t), "", func(ctx *host.ActorContext, msg host.Message) error {
		var n echoRequest
		if err := msg.Decode(&n); err != nil {
			return err
		}
		s.notes <- n.Text
		return nil
	})
	require.NoError(t, err)
	return s
}

func (s *supEnv) worker(name, restart string) treeChild {
	return treeChild{Name: name, Factory: "Worker", Restart: restart, Isolated: true,
		Args: map[string]any{"name": name, "report": abiPID(s.report)}}
}

// spawn starts a supervisor (isolated) and waits for its workers to start.
func (s *supEnv) spawn(t *testing.T, tr tree, workers ...string) host.PID {
	t.Helper()
	pid, err := s.n.Spawn(ctxT(t), "Sup", host.SpawnOptions{Args: tr, Isolated: true, Node: s.n.Name()})
	require.NoError(t, err)
	s.started(t, workers...)
	return pid
}

// started waits until the named workers have (re)started, in any order:
// each runs in an instance of its own.
func (s *supEnv) started(t *testing.T, names ...string) {
	t.Helper()
	var want, got []string
	for _, name := range names {
		want = append(want, "started "+name)
		select {
		case n := <-s.notes:
			got = append(got, n)
		case <-ctxT(t).Done():
			t.Fatalf("waiting for %v, got %v", names, got)
		}
	}
	require.ElementsMatch(t, want, got)
}

// quiet checks that no worker has started since the last started.
func (s *supEnv) quiet(t *testing.T) {
	t.Helper()
	select {
	case n := <-s.notes:
		t.Fatalf("unexpected %s", n)
	default:
	}
}

type childInfo struct {
	Name     string    `cbor:"name"`
	PID      [2]uint64 `cbor:"pid"`
	Restarts int       `cbor:"restarts"`
}

// children asks a supervisor which_children: by name, the PID (zero if
// not running) and the restart count.
func (s *supEnv) children(t *testing.T, sup host.PID) map[string]childInfo {
	t.Helper()
	reply, err := s.n.Call(ctxT(t), sup, map[string]string{"op": "which_children"})
	require.NoError(t, err)
	var r struct {
		Err      string      `cbor:"err"`
		Children []childInfo `cbor:"children"`
	}
	require.NoError(t, reply.Decode(&r))
	require.Empty(t, r.Err)
	out := map[string]childInfo{}
	for _, c := range r.Children {
		out[c.Name] = c
	}
	return out
}

// pid is a child's PID; a child on another node is one of s.n's members.
// runningChildren is children once every child has a PID. A child on
// another node starts through a spawn request, whose outcome reaches the
// supervisor on another stream than the child's first message: the
// child's "started" note may come first.
func (s *supEnv) runningChildren(t *testing.T, sup host.PID) map[string]childInfo {
	t.Helper()
	var c map[string]childInfo
	require.Eventually(t, func() bool {
		c = s.children(t, sup)
		for _, x := range c {
			if x.PID == [2]uint64{} {
				return false
			}
		}
		return true
	}, probeTimeout, time.Millisecond, "children still starting: %v", c)
	return c
}

func (s *supEnv) pid(c childInfo) host.PID {
	node := s.n.Name()
	for _, m := range s.n.Members() {
		if m.Incarnation == c.PID[0] {
			node = m.Name
		}
	}
	return host.PID{Node: node, Incarnation: c.PID[0], Serial: c.PID[1]}
}

func (s *supEnv) monitor(t *testing.T, pid host.PID) *host.Monitor {
	t.Helper()
	m, err := s.n.Monitor(ctxT(t), pid)
	require.NoError(t, err)
	return m
}

func TestSupervisorRestartsACrashedChild(t *testing.T) {
	s := newSupEnv(t)
	sup := s.spawn(t, tree{Strategy: "one_for_one", PeriodMS: hour, Children: []treeChild{
		s.worker("w1", "permanent"), s.worker("w2", "permanent"),
	}}, "w1", "w2")
	msup := s.monitor(t, sup)
	before := s.children(t, sup)
	mw2 := s.monitor(t, s.pid(before["w2"]))

	// A panic fails w1's instance; only w1 comes back, under a new PID.
	_, err := s.n.Call(ctxT(t), s.pid(before["w1"]), map[string]string{"op": "crash"})
	require.Error(t, err, "a crashing worker cannot answer")
	s.started(t, "w1")
	after := s.children(t, sup)
	require.NotEqual(t, before["w1"].PID, after["w1"].PID)
	require.Equal(t, 1, after["w1"].Restarts)
	require.Equal(t, before["w2"], after["w2"], "one for one: the sibling is untouched")
	reply, err := s.n.Call(ctxT(t), s.pid(after["w1"]), map[string]string{"op": "name"})
	require.NoError(t, err)
	var r echoRequest
	require.NoError(t, reply.Decode(&r))
	require.Equal(t, "w1", r.Text, "the restarted child got its args again")

	// A kill with an abnormal reason is a crash too.
	require.NoError(t, s.n.Kill(ctxT(t), s.pid(after["w2"]), "boom"))
	require.Equal(t, "boom", waitDown(t, mw2, probeTimeout).Reason)
	s.started(t, "w2")
	require.Equal(t, after["w1"], s.children(t, sup)["w1"])
	noDown(t, msup)
	s.quiet(t)
}

func TestSupervisorOneForAllRestartsSiblings(t *testing.T) {
	s := newSupEnv(t)
	sup := s.spawn(t, tree{Strategy: "one_for_all", PeriodMS: hour, Children: []treeChild{
		s.worker("w1", "permanent"), s.worker("w2", "permanent"), s.worker("w3", "transient"),
	}}, "w1", "w2", "w3")
	before := s.children(t, sup)
	mw1, mw3 := s.monitor(t, s.pid(before["w1"])), s.monitor(t, s.pid(before["w3"]))

	require.NoError(t, s.n.Kill(ctxT(t), s.pid(before["w2"]), "boom"))
	s.started(t, "w1", "w2", "w3")
	require.Equal(t, "killed", waitDown(t, mw1, probeTimeout).Reason, "stopped by its supervisor")
	require.Equal(t, "killed", waitDown(t, mw3, probeTimeout).Reason)
	after := s.children(t, sup)
	for _, name := range []string{"w1", "w2", "w3"} {
		require.NotEqual(t, before[name].PID, after[name].PID, name)
		require.Equal(t, 1, after[name].Restarts, name)
	}

	// rest_for_one: the children after the one that stopped.
	rest := s.spawn(t, tree{Strategy: "rest_for_one", PeriodMS: hour, Children: []treeChild{
		s.worker("r1", "permanent"), s.worker("r2", "permanent"), s.worker("r3", "permanent"),
	}}, "r1", "r2", "r3")
	before = s.children(t, rest)
	require.NoError(t, s.n.Kill(ctxT(t), s.pid(before["r2"]), "boom"))
	s.started(t, "r2", "r3")
	after = s.children(t, rest)
	require.Equal(t, before["r1"], after["r1"])
	require.NotEqual(t, before["r3"].PID, after["r3"].PID)
	s.quiet(t)
}

func TestSupervisorGivesUpBeyondItsIntensity(t *testing.T) {
	s := newSupEnv(t)
	sup := s.spawn(t, tree{MaxRestarts: 1, PeriodMS: hour, Children: []treeChild{
		s.worker("w1", "permanent"), s.worker("w2", "permanent"),
	}}, "w1", "w2")
	msup := s.monitor(t, sup)
	c := s.children(t, sup)
	mw2 := s.monitor(t, s.pid(c["w2"]))

	require.NoError(t, s.n.Kill(ctxT(t), s.pid(c["w1"]), "boom")) // the one restart allowed
	s.started(t, "w1")
	require.NoError(t, s.n.Kill(ctxT(t), s.pid(s.children(t, sup)["w1"]), "boom"))
	require.Equal(t, reasonIntensity, waitDown(t, msup, probeTimeout).Reason, "its own monitor fires")
	require.Equal(t, "killed", waitDown(t, mw2, probeTimeout).Reason, "it stopped its children first")
	s.quiet(t)
}

func TestSupervisorGivingUpPropagatesUpTheTree(t *testing.T) {
	s := newSupEnv(t)
	inner := tree{MaxRestarts: 1, PeriodMS: hour, Children: []treeChild{s.worker("leaf", "permanent")}}
	root := s.spawn(t, tree{MaxRestarts: -1, Children: []treeChild{
		{Name: "inner", Factory: "Sup", Restart: "permanent", Isolated: true, Args: inner},
		s.worker("sibling", "permanent"),
	}}, "leaf", "sibling")
	mroot := s.monitor(t, root)
	rc := s.children(t, root)
	innerPID := s.pid(rc["inner"])
	minner, msibling := s.monitor(t, innerPID), s.monitor(t, s.pid(rc["sibling"]))
	leaf := s.pid(s.children(t, innerPID)["leaf"])
	mleaf := s.monitor(t, leaf)

	require.NoError(t, s.n.Kill(ctxT(t), leaf, "boom"))
	require.Equal(t, "boom", waitDown(t, mleaf, probeTimeout).Reason)
	s.started(t, "leaf")
	require.NoError(t, s.n.Kill(ctxT(t), s.pid(s.children(t, innerPID)["leaf"]), "boom"))
	require.Equal(t, reasonIntensity, waitDown(t, minner, probeTimeout).Reason)
	require.Equal(t, reasonIntensity, waitDown(t, mroot, probeTimeout).Reason, "the root allows no restart of inner")
	require.Equal(t, "killed", waitDown(t, msibling, probeTimeout).Reason)
	s.quiet(t)

	// Killing a supervisor takes its tree down over the links: a nested
	// supervisor (which traps exits) follows its parent.
	root = s.spawn(t, tree{Children: []treeChild{
		{Name: "inner", Factory: "Sup", Restart: "permanent", Isolated: true, Args: inner},
	}}, "leaf")
	innerPID = s.pid(s.children(t, root)["inner"])
	leaf = s.pid(s.children(t, innerPID)["leaf"])
	minner, mleaf = s.monitor(t, innerPID), s.monitor(t, leaf)
	require.NoError(t, s.n.Kill(ctxT(t), root, "operator"))
	require.Equal(t, "operator", waitDown(t, minner, probeTimeout).Reason)
	require.Equal(t, "killed", waitDown(t, mleaf, probeTimeout).Reason)
	s.quiet(t)
}

func TestSupervisorLeavesATransientChildThatStoppedNormally(t *testing.T) {
	s := newSupEnv(t)
	sup := s.spawn(t, tree{PeriodMS: hour, Children: []treeChild{
		s.worker("t1", "transient"), s.worker("t2", "transient"), s.worker("tmp", "temporary"),
	}}, "t1", "t2", "tmp")
	c := s.children(t, sup)

	// Kill returns once the supervisor's Downs are queued, in this order.
	require.NoError(t, s.n.Kill(ctxT(t), s.pid(c["t1"]), wasmactor.ReasonNormal))
	require.NoError(t, s.n.Kill(ctxT(t), s.pid(c["tmp"]), "boom"))
	require.NoError(t, s.n.Kill(ctxT(t), s.pid(c["t2"]), "boom"))
	s.started(t, "t2")
	after := s.children(t, sup)
	require.Equal(t, childInfo{Name: "t1"}, after["t1"], "a transient child that stopped normally stays down")
	require.Equal(t, childInfo{Name: "tmp"}, after["tmp"], "a temporary child stays down")
	require.Equal(t, 1, after["t2"].Restarts, "an abnormal stop restarts it")
	s.quiet(t)
}

func TestSupervisorThatCannotStartAChildStopsTheOthers(t *testing.T) {
	s := newSupEnv(t)
	sup, err := s.n.Spawn(ctxT(t), "Sup", host.SpawnOptions{Isolated: true, Args: tree{Children: []treeChild{
		s.worker("w1", "permanent"), {Name: "w2", Factory: "Nope"},
	}}})
	require.NoError(t, err)
	m := s.monitor(t, sup)
	// The monitor may come after the supervisor's Init has already failed.
	require.Contains(t, []string{`supervisor: cannot start child "w2": wasmactor: unknown factory`, wasmactor.ReasonNoProc},
		waitDown(t, m, probeTimeout).Reason)
	for _, a := range s.n.Actors() {
		require.Equal(t, "go", a.Factory, "only the reporter is left: %+v", a)
	}
}

func TestSupervisorRestartsAChildOnAnotherNode(t *testing.T) {
	c := newCluster(t, 2, host.Config{})
	n1, n2 := c.nodes[0], c.nodes[1]
	deploy(t, n1, guestbuildtest.Build(t, "testdata/guests/supervisor"))
	s := newSupEnvOn(t, n1)
	far := s.worker("far", "permanent")
	far.Node = "n2"
	sup := s.spawn(t, tree{MaxRestarts: 2, PeriodMS: hour, Children: []treeChild{far, s.worker("near", "permanent")}}, "far", "near")
	msup := s.monitor(t, sup)
	before := s.runningChildren(t, sup)
	farPID := s.pid(before["far"])
	require.Equal(t, "n2", farPID.Node)
	require.Equal(t, n2.Incarnation(), farPID.Incarnation)

	m, err := n2.Monitor(ctxT(t), farPID) // local there: in place before the kill
	require.NoError(t, err)
	require.NoError(t, n2.Kill(ctxT(t), farPID, "boom"))
	require.Equal(t, "boom", waitDown(t, m, probeTimeout).Reason)
	s.started(t, "far")
	after := s.runningChildren(t, sup)
	require.Equal(t, "n2", s.pid(after["far"]).Node, "restarted where its spec says")
	require.NotEqual(t, before["far"].PID, after["far"].PID)
	require.Equal(t, before["near"], after["near"])

	// Its node goes: the child is lost ("noconnection"), and starting it
	// again there fails until the intensity is spent.
	require.NoError(t, n2.Close())
	require.Equal(t, reasonIntensity, waitDown(t, msup, probeTimeout).Reason)
	s.quiet(t)
}
