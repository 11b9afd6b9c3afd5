//go:build !wasip1

package actor

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/stretchr/testify/require"
)

// The supervisor's decisions, driven by hand-made DOWN and EXIT records
// against the fake host (which numbers spawned children from 1001 and
// monitor refs from 501). host/supervisor_test.go runs supervision trees
// on a real node.

// supTest is a supervisor (actor 1) in a test instance, with a clock the
// test moves.
type supTest struct {
	*testInstance
	t   *testing.T
	now time.Time
}

const supID = 1

func newSupTest(t *testing.T, spec SupervisorSpec) *supTest {
	st := &supTest{t: t, now: time.Unix(1000, 0)}
	st.testInstance = newTestInstance(map[string]func() Actor{"Sup": func() Actor {
		return &supervisor{
			init: func(*Context, Message) (SupervisorSpec, error) { return spec, nil },
			now:  func() time.Time { return st.now },
		}
	}})
	st.runOK(record{kind: kindStart, actor: supID, from: parent, payload: startPayload("Sup", nil)})
	return st
}

func (st *supTest) runOK(recs ...record) {
	st.t.Helper()
	require.Equal(st.t, int32(0), st.run(recs...), st.host.failure)
}

// pid of the fake host's nth spawn (1-based).
func spawned(n int) PID { return PID{Incarnation: 0xabc, Serial: 1000 + uint64(n)} }

// down reports that a child stopped; ref is the monitor the supervisor
// holds on it.
func (st *supTest) down(child PID, ref uint64, reason string) {
	st.t.Helper()
	st.runOK(record{kind: kindDown, actor: supID, from: child, ref: ref, payload: []byte(reason)})
}

// calls returns the calls since the last take, as short strings.
func (st *supTest) calls() []string {
	var out []string
	for _, c := range st.host.calls {
		switch c.op {
		case "spawn", "spawn_request":
			out = append(out, fmt.Sprintf("%s %s flags=%d", c.op, c.text, c.flags))
		case "monitor", "unlink":
			out = append(out, fmt.Sprintf("%s %d", c.op, c.to.Serial))
		case "demonitor":
			out = append(out, fmt.Sprintf("demonitor %d", c.ref))
		case "kill":
			out = append(out, fmt.Sprintf("kill %d %s", c.to.Serial, c.text))
		case "stop":
			out = append(out, "stop "+c.text)
		case "trap_exit":
			out = append(out, fmt.Sprintf("trap_exit %d", c.flags))
		case "log":
			w := strings.Fields(c.text)
			out = append(out, "log "+w[0]+" "+w[1])
		default:
			out = append(out, c.op)
		}
	}
	st.host.calls = nil
	return out
}

// children asks the supervisor which_children.
func (st *supTest) children() []ChildInfo {
	st.t.Helper()
	req, err := cbor.Marshal(SupervisorRequest{Op: OpWhichChildren})
	require.NoError(st.t, err)
	st.runOK(askRec(supID, PID{}, 9, req))
	var r SupervisorReply
	require.NoError(st.t, cbor.Unmarshal(st.host.only(st.t, "reply").data, &r))
	st.host.calls = nil
	return r.Children
}

func threeChildren(restart RestartPolicy) []ChildSpec {
	return []ChildSpec{
		{Name: "a", Factory: "A", Restart: restart},
		{Name: "b", Factory: "B", Restart: restart, Args: map[string]int{"n": 1}, Options: []SpawnOption{SpawnIsolated}},
		{Name: "c", Factory: "C", Restart: restart},
	}
}

func TestSupervisorStartsChildrenLinkedAndMonitored(t *testing.T) {
	st := newSupTest(t, SupervisorSpec{Children: threeChildren(Permanent)})
	require.Equal(t, []string{
		"trap_exit 1",
		"spawn A flags=5",
		"spawn B flags=7",
		"spawn C flags=5",
	}, st.calls())
	require.Equal(t, []ChildInfo{{Name: "a", PID: spawned(1)}, {Name: "b", PID: spawned(2)}, {Name: "c", PID: spawned(3)}}, st.children())
}

func TestSupervisorEncodesChildArgsOnce(t *testing.T) {
	st := newSupTest(t, SupervisorSpec{Children: threeChildren(Permanent)[1:2]})
	first := st.host.only(t, "spawn").data
	want, err := cbor.Marshal(map[string]int{"n": 1})
	require.NoError(t, err)
	require.Equal(t, want, first)
	st.calls()
	st.down(spawned(1), 501, "boom")
	require.Equal(t, want, st.host.only(t, "spawn").data, "the same args on a restart")
}

func TestSupervisorOneForOne(t *testing.T) {
	st := newSupTest(t, SupervisorSpec{Strategy: OneForOne, Children: threeChildren(Permanent)})
	st.calls()
	st.down(spawned(2), 502, "boom")
	require.Equal(t, []string{"spawn B flags=7"}, st.calls())
	require.Equal(t, []ChildInfo{{Name: "a", PID: spawned(1)}, {Name: "b", PID: spawned(4), Restarts: 1}, {Name: "c", PID: spawned(3)}}, st.children())

	// A permanent child is restarted after a normal stop too.
	st.down(spawned(1), 501, "normal")
	require.Equal(t, []string{"spawn A flags=5"}, st.calls())
}

func TestSupervisorOneForAll(t *testing.T) {
	st := newSupTest(t, SupervisorSpec{Strategy: OneForAll, Children: threeChildren(Permanent)})
	st.calls()
	st.down(spawned(2), 502, "boom")
	require.Equal(t, []string{
		// the running siblings stop, the last started first, and leave no
		// Down or exit behind
		"demonitor 503", "unlink 1003", "kill 1003 killed",
		"demonitor 501", "unlink 1001", "kill 1001 killed",
		// then all start again in order
		"spawn A flags=5",
		"spawn B flags=7",
		"spawn C flags=5",
	}, st.calls())
	require.Equal(t, []ChildInfo{
		{Name: "a", PID: spawned(4), Restarts: 1},
		{Name: "b", PID: spawned(5), Restarts: 1},
		{Name: "c", PID: spawned(6), Restarts: 1},
	}, st.children())

	// Downs of the children it stopped itself would be stale: ignored.
	st.down(spawned(1), 501, "killed")
	require.Empty(t, st.calls())
}

func TestSupervisorRestForOne(t *testing.T) {
	st := newSupTest(t, SupervisorSpec{Strategy: RestForOne, Children: threeChildren(Permanent)})
	st.calls()
	st.down(spawned(2), 502, "boom")
	require.Equal(t, []string{
		"demonitor 503", "unlink 1003", "kill 1003 killed",
		"spawn B flags=7",
		"spawn C flags=5",
	}, st.calls())
}

func TestSupervisorRestartTypes(t *testing.T) {
	st := newSupTest(t, SupervisorSpec{Strategy: OneForOne, Children: []ChildSpec{
		{Name: "tr", Factory: "T", Restart: Transient},
		{Name: "tm", Factory: "T", Restart: Temporary},
	}})
	st.calls()
	st.down(spawned(1), 501, "normal")
	st.down(spawned(2), 502, "boom")
	require.Empty(t, st.calls(), "a transient child stopping normally and a temporary one are not restarted")
	require.Equal(t, []ChildInfo{{Name: "tr"}, {Name: "tm"}}, st.children())

	st = newSupTest(t, SupervisorSpec{Children: []ChildSpec{{Name: "tr", Factory: "T", Restart: Transient}}})
	st.calls()
	st.down(spawned(1), 501, "shutdown")
	require.Empty(t, st.calls())
	st = newSupTest(t, SupervisorSpec{Children: []ChildSpec{{Name: "tr", Factory: "T", Restart: Transient}}})
	st.calls()
	st.down(spawned(1), 501, "noproc")
	require.Equal(t, []string{"spawn T flags=5"}, st.calls(), "an abnormal stop restarts it")
}

func TestSupervisorOneForAllLeavesTemporarySiblingsDown(t *testing.T) {
	st := newSupTest(t, SupervisorSpec{Strategy: OneForAll, Children: []ChildSpec{
		{Name: "p", Factory: "P", Restart: Permanent},
		{Name: "t", Factory: "T"}, // the zero value: temporary
	}})
	st.calls()
	st.down(spawned(1), 501, "boom")
	require.Equal(t, []string{"demonitor 502", "unlink 1002", "kill 1002 killed", "spawn P flags=5"}, st.calls())
	require.Equal(t, []ChildInfo{{Name: "p", PID: spawned(3), Restarts: 1}, {Name: "t"}}, st.children())
}

func TestSupervisorIntensity(t *testing.T) {
	st := newSupTest(t, SupervisorSpec{MaxRestarts: 2, Period: 10 * time.Second, Children: threeChildren(Permanent)[:2]})
	st.calls()
	st.down(spawned(1), 501, "boom") // restart 1 at t=0
	st.now = st.now.Add(6 * time.Second)
	st.down(spawned(3), 503, "boom") // restart 2 at t=6
	st.now = st.now.Add(5 * time.Second)
	st.down(spawned(4), 504, "boom") // t=11: the first fell out of the window
	require.Equal(t, []string{
		"spawn A flags=5",
		"spawn A flags=5",
		"spawn A flags=5",
	}, st.calls())

	st.now = st.now.Add(time.Second)
	st.down(spawned(5), 505, "boom") // t=12: a third within 10s
	require.Equal(t, []string{
		"log supervisor: giving",
		"demonitor 502", "unlink 1002", "kill 1002 killed",
		"stop " + ReasonRestartIntensity,
	}, st.calls())
	require.Zero(t, st.actors.len(), "the supervisor is gone")
}

func TestSupervisorWithoutRestarts(t *testing.T) {
	st := newSupTest(t, SupervisorSpec{MaxRestarts: -1, Children: threeChildren(Permanent)[:1]})
	st.calls()
	st.down(spawned(1), 501, "boom")
	require.Equal(t, []string{"log supervisor: giving", "stop " + ReasonRestartIntensity}, st.calls())
}

func TestSupervisorFailedRestartCountsAndRetries(t *testing.T) {
	st := newSupTest(t, SupervisorSpec{Strategy: OneForAll, MaxRestarts: 3, Children: threeChildren(Permanent)})
	st.calls()
	// The second child cannot be spawned any more: every attempt counts.
	st.host.codes["spawn"] = codeUnknownFactory
	st.down(spawned(2), 502, "boom")
	got := st.calls()
	require.Equal(t, []string{
		"demonitor 503", "unlink 1003", "kill 1003 killed",
		"demonitor 501", "unlink 1001", "kill 1001 killed",
		"spawn A flags=5", "log supervisor: restart",
		"spawn A flags=5", "log supervisor: restart",
		"spawn A flags=5", "log supervisor: restart",
		"log supervisor: giving", "stop " + ReasonRestartIntensity,
	}, got)
}

func TestSupervisorFollowsItsParent(t *testing.T) {
	st := newSupTest(t, SupervisorSpec{Children: threeChildren(Permanent)[:2]})
	st.calls()
	st.runOK(record{kind: kindExit, actor: supID, from: spawned(1), payload: []byte("boom")})
	require.Empty(t, st.calls(), "a child's exit is left to its Down")
	st.runOK(record{kind: kindExit, actor: supID, from: parent, payload: []byte("parent died")})
	require.Equal(t, []string{
		"demonitor 502", "unlink 1002", "kill 1002 killed",
		"demonitor 501", "unlink 1001", "kill 1001 killed",
		"stop parent died",
	}, st.calls())
}

func TestSupervisorInitErrors(t *testing.T) {
	for _, tc := range []struct {
		spec SupervisorSpec
		want string
	}{
		{SupervisorSpec{Children: []ChildSpec{{Factory: "A"}}}, "must be 1 to 128 bytes"},
		{SupervisorSpec{Children: []ChildSpec{{Name: "a", Factory: "A"}, {Name: "a", Factory: "B"}}}, "two children named \"a\""},
		{SupervisorSpec{Children: []ChildSpec{{Name: "a"}}}, "has no factory"},
		{SupervisorSpec{Children: []ChildSpec{{Name: "a", Factory: "A", Restart: 9}}}, "unknown restart type"},
		{SupervisorSpec{Strategy: 7}, "unknown strategy"},
		{SupervisorSpec{Children: []ChildSpec{{Name: "a", Factory: "A", Args: make(chan int)}}}, "cannot encode its args"},
	} {
		st := newSupTest(t, tc.spec)
		stop := st.host.only(t, "stop")
		require.Contains(t, stop.text, tc.want)
		require.NotContains(t, st.host.ops(), "spawn")
	}

	// A child that cannot be spawned fails the supervisor's start.
	st := &supTest{t: t}
	st.testInstance = newTestInstance(map[string]func() Actor{"Sup": Supervisor(func(*Context, Message) (SupervisorSpec, error) {
		return SupervisorSpec{Children: threeChildren(Permanent)}, nil
	})})
	st.host.codes["spawn"] = codeUnknownFactory
	st.runOK(startRec(supID, "Sup", nil))
	require.Equal(t, []string{"trap_exit 1", "spawn A flags=5", `stop supervisor: cannot start child "a": wasmactor: unknown factory`}, st.calls())
}

// spawnedRec is the outcome of the spawn request with ref: the child and
// its monitor, or the error code.
func spawnedRec(ref uint64, child PID, mon uint64, code uint16) record {
	r := record{kind: kindSpawned, actor: supID, ref: ref, from: child, status: code}
	if code == 0 {
		r.payload = binary.LittleEndian.AppendUint64(nil, mon)
	}
	return r
}

// requests returns the refs of the spawn requests made since the last take.
func (st *supTest) requests() []uint64 {
	var refs []uint64
	for _, c := range st.host.calls {
		if c.op == "spawn_request" {
			refs = append(refs, c.ref)
		}
	}
	return refs
}

func TestSupervisorChildOnAnotherNode(t *testing.T) {
	remote := PID{Incarnation: 0xdef, Serial: 40}
	st := newSupTest(t, SupervisorSpec{Strategy: OneForOne, Children: []ChildSpec{
		{Name: "r", Factory: "R", Restart: Permanent, Options: []SpawnOption{On("n2")}},
		{Name: "l", Factory: "L", Restart: Permanent},
	}})
	refs := st.requests()
	require.Equal(t, []string{"trap_exit 1", "spawn_request R@n2 flags=5", "spawn L flags=5"}, st.calls())
	require.Len(t, refs, 1)
	require.Equal(t, []ChildInfo{{Name: "r"}, {Name: "l", PID: spawned(1)}}, st.children(), "r is starting")

	st.runOK(spawnedRec(refs[0], remote, 777, 0))
	require.Equal(t, remote, st.children()[0].PID)

	// Its Down restarts it with another request.
	st.down(remote, 777, "noconnection")
	refs = st.requests()
	require.Equal(t, []string{"spawn_request R@n2 flags=5"}, st.calls())
	require.Equal(t, ChildInfo{Name: "r", Restarts: 1}, st.children()[0])

	// A request that fails is a failed start: it counts, and is retried.
	st.runOK(spawnedRec(refs[0], PID{}, 0, codeNodeDown))
	refs = st.requests()
	require.Equal(t, []string{"log supervisor: start", "spawn_request R@n2 flags=5"}, st.calls())
	st.runOK(spawnedRec(refs[0], remote, 778, 0))
	require.Equal(t, ChildInfo{Name: "r", PID: remote, Restarts: 2}, st.children()[0])
}

func TestSupervisorStopsTheChildOfAStaleRequest(t *testing.T) {
	st := newSupTest(t, SupervisorSpec{Strategy: OneForAll, Children: []ChildSpec{
		{Name: "l", Factory: "L", Restart: Permanent},
		{Name: "r", Factory: "R", Restart: Permanent, Options: []SpawnOption{On("n2")}},
	}})
	first := st.requests()
	st.calls()
	// l fails while r's start is in flight: both start again.
	st.down(spawned(1), 501, "boom")
	second := st.requests()
	require.Equal(t, []string{"spawn L flags=5", "spawn_request R@n2 flags=5"}, st.calls())
	require.NotEqual(t, first, second)

	// The first outcome arrives late: its child is stopped at once.
	late := PID{Incarnation: 0xdef, Serial: 41}
	st.runOK(spawnedRec(first[0], late, 900, 0))
	require.Equal(t, []string{"demonitor 900", "unlink 41", "kill 41 killed"}, st.calls())
	current := PID{Incarnation: 0xdef, Serial: 42}
	st.runOK(spawnedRec(second[0], current, 901, 0))
	require.Empty(t, st.calls())
	require.Equal(t, []ChildInfo{{Name: "l", PID: spawned(2), Restarts: 1}, {Name: "r", PID: current, Restarts: 1}}, st.children())
}

func TestSupervisorOfNilPanics(t *testing.T) {
	require.PanicsWithValue(t, "wasmactor: Supervisor(nil)", func() { Supervisor(nil) })
}

func TestSupervisorAnswersOnlyWhichChildren(t *testing.T) {
	st := newSupTest(t, SupervisorSpec{})
	st.calls()
	req, _ := cbor.Marshal(map[string]string{"op": "restart_everything"})
	st.runOK(askRec(supID, PID{}, 3, req), tellRec(supID, parent, req))
	var r SupervisorReply
	require.NoError(t, cbor.Unmarshal(st.host.only(t, "reply").data, &r))
	require.Equal(t, `supervisor: unknown request "restart_everything"`, r.Err)
	require.Len(t, st.host.calls, 3, "one reply, two logs: %v", st.host.ops())
}
