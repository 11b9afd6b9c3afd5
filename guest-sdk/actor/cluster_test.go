//go:build !wasip1

package actor

import (
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// watcher records node downs and group changes besides what probe does.
type watcher struct {
	probe
}

func (w *watcher) HandleNodeDown(ctx *Context, d NodeDown) {
	w.logf("nodedown ref=%d node=%s inc=%x reason=%s", d.Ref, d.Node, d.Incarnation, d.Reason)
}

func (w *watcher) HandleGroup(ctx *Context, e GroupEvent) {
	w.logf("group ref=%d group=%s pid=%v joined=%v overflow=%v", e.Ref, e.Group, e.PID, e.Joined, e.Overflow)
}

func nodeDownRec(id, ref, inc uint64, node, reason string) record {
	p := binary.LittleEndian.AppendUint16(nil, uint16(len(node)))
	p = append(append(p, node...), reason...)
	return record{kind: kindNodeDown, actor: id, ref: ref, from: PID{Incarnation: inc}, payload: p}
}

func groupRec(id, ref uint64, ev byte, group string, from PID) record {
	return record{kind: kindGroup, actor: id, ref: ref, from: from, payload: append([]byte{ev}, group...)}
}

func TestNodeAndGroupMonitors(t *testing.T) {
	var ev []string
	member := PID{Incarnation: 0xdef, Serial: 3}
	ti := newTestInstance(map[string]func() Actor{
		"W": func() Actor {
			return &watcher{probe{events: &ev, onMsg: func(ctx *Context, _ Message) {
				ref, err := ctx.MonitorNode("n2")
				require.NoError(t, err)
				require.Equal(t, Ref(501), ref)
				gref, err := ctx.MonitorGroup("workers")
				require.NoError(t, err)
				require.Equal(t, Ref(502), gref)
				ctx.Demonitor(gref)
				require.NoError(t, ctx.JoinGroup("workers"))
				require.ErrorIs(t, ctx.LeaveGroup("workers"), ErrNotFound)
				members, err := ctx.GroupMembers("workers")
				require.NoError(t, err)
				require.Equal(t, []PID{ctx.Self(), member}, members)
				sent, refused, err := ctx.SendGroup("workers", "hi")
				require.NoError(t, err)
				require.Equal(t, []int{1, 1}, []int{sent, refused})
			}}}
		},
		"P": probeFactory(&ev, nil), // handles neither: ignores both kinds
	})
	ti.host.codes["leave_group"] = codeNotFound
	ti.host.members = []PID{{Incarnation: 0xabc, Serial: 1}, member}
	rc := ti.run(startRec(1, "W", nil), startRec(2, "P", nil), tellRec(1, parent, nil),
		nodeDownRec(1, 501, 0x77, "n2", "timeout"),
		groupRec(1, 502, groupJoined, "workers", member),
		groupRec(1, 502, groupLeft, "workers", member),
		groupRec(1, 502, groupOverflow, "workers", PID{}),
		groupRec(1, 502, 9, "workers", member), // an event of a newer host
		nodeDownRec(2, 9, 0x77, "n2", "left"),
		groupRec(2, 9, groupJoined, "g", member),
	)
	require.Equal(t, int32(0), rc, ti.host.failure)
	require.Equal(t, []string{
		`init <0000000000000abc.1> from=<0000000000000000.0> args=""`,
		`init <0000000000000abc.2> from=<0000000000000000.0> args=""`,
		`recv "" ask=false from=<0000000000000abc.7>`,
		`nodedown ref=501 node=n2 inc=77 reason=timeout`,
		`group ref=502 group=workers pid=<0000000000000def.3> joined=true overflow=false`,
		`group ref=502 group=workers pid=<0000000000000def.3> joined=false overflow=false`,
		`group ref=502 group=workers pid=<0000000000000000.0> joined=false overflow=true`,
	}, ev)
	require.Equal(t, []string{"monitor_node", "monitor_group", "demonitor", "join_group", "leave_group", "group_members", "send_group"}, ti.host.ops())
	require.Equal(t, uint64(502), ti.host.only(t, "demonitor").ref)
	require.Equal(t, []byte{0x62, 'h', 'i'}, ti.host.only(t, "send_group").data)

	// Malformed records fail the instance.
	ti = newTestInstance(map[string]func() Actor{"W": func() Actor { return &watcher{probe{events: new([]string)}} }})
	require.Equal(t, int32(1), ti.run(startRec(1, "W", nil), record{kind: kindNodeDown, actor: 1, payload: []byte{9, 0, 'x'}}))
	require.Contains(t, ti.host.failure, "NODEDOWN payload too short")
	ti = newTestInstance(map[string]func() Actor{"W": func() Actor { return &watcher{probe{events: new([]string)}} }})
	require.Equal(t, int32(1), ti.run(startRec(1, "W", nil), record{kind: kindGroup, actor: 1}))
	require.Contains(t, ti.host.failure, "GROUP record without its event")
}

func TestGroupMembersGrowsItsBuffer(t *testing.T) {
	var got []PID
	ti := newTestInstance(map[string]func() Actor{"P": func() Actor {
		return &probe{events: new([]string), onMsg: func(ctx *Context, _ Message) {
			var err error
			got, err = ctx.GroupMembers("big")
			require.NoError(t, err)
		}}
	}})
	for i := range 100 {
		ti.host.members = append(ti.host.members, PID{Incarnation: 1, Serial: uint64(i + 1)})
	}
	require.Equal(t, int32(0), ti.run(startRec(1, "P", nil), tellRec(1, parent, nil)))
	require.Equal(t, ti.host.members, got)
	var sizes []uint32
	for _, c := range ti.host.calls {
		sizes = append(sizes, c.ms)
	}
	require.Equal(t, []uint32{16, 125}, sizes, "asked once for the count, once with room")
}

func TestSpawnOptionsAndRequests(t *testing.T) {
	var ev []string
	var refs []Ref
	ti := newTestInstance(map[string]func() Actor{"P": func() Actor {
		return &probe{events: &ev, onMsg: func(ctx *Context, _ Message) {
			_, err := ctx.Spawn("C", nil, On("n2"))
			require.ErrorIs(t, err, ErrBadArgument)
			_, err = ctx.Spawn("C", nil, Restart(Permanent, 1, time.Second))
			require.ErrorIs(t, err, ErrBadArgument)
			_, err = ctx.Spawn("C", nil, SpawnMonitor)
			require.ErrorIs(t, err, ErrBadArgument, "the Ref would be lost")
			pid, err := ctx.SpawnLink("C", nil, SpawnIsolated)
			require.NoError(t, err)
			require.Equal(t, uint64(1001), pid.Serial)
			pid, ref, err := ctx.SpawnMonitor("C", nil)
			require.NoError(t, err)
			require.Equal(t, uint64(1002), pid.Serial)
			require.Equal(t, Ref(501), ref)
			then := func(ctx *Context, child PID, mon Ref, err error) {
				ev = append(ev, fmt.Sprintf("spawned %v mon=%d err=%v pending=%d", child, mon, err, ctx.Pending()))
			}
			require.NoError(t, ctx.SpawnRequest("C", map[string]int{"a": 1}, then, On("n2"), SpawnLink|SpawnMonitor,
				Restart(Transient, 5, 1500*time.Millisecond)))
			require.NoError(t, ctx.SpawnRequestRaw("C", nil, then))
			require.ErrorIs(t, ctx.SpawnRequest("C", nil, nil), ErrBadArgument)
			require.Equal(t, 2, ctx.Pending())
			refs = append(refs, Ref(ctx.in.lastRef-1), Ref(ctx.in.lastRef))
		}}
	}})
	require.Equal(t, int32(0), ti.run(startRec(1, "P", nil), tellRec(1, parent, nil)))
	require.Equal(t, []string{"spawn", "spawn", "spawn_request", "spawn_request"}, ti.host.ops())
	c := ti.host.calls
	require.Equal(t, uint32(SpawnIsolated|SpawnLink), c[0].flags)
	require.Equal(t, uint32(SpawnMonitor), c[1].flags)
	require.Equal(t, call{op: "spawn_request", actor: 1, ref: uint64(refs[0]), text: "C@n2", data: []byte{0xa1, 0x61, 'a', 0x01},
		flags: uint32(SpawnLink | SpawnMonitor), restart: restart{policy: 1, maxRestarts: 5, periodMS: 1500}}, c[2])
	require.Equal(t, call{op: "spawn_request", actor: 1, ref: uint64(refs[1]), text: "C@"}, c[3])

	// The outcomes, in whatever order they come; a second one for a ref is
	// ignored, as is one for a ref never requested.
	child := PID{Incarnation: 0xdef, Serial: 4}
	ok := record{kind: kindSpawned, actor: 1, ref: uint64(refs[0]), from: child, payload: binary.LittleEndian.AppendUint64(nil, 77)}
	failed := record{kind: kindSpawned, actor: 1, ref: uint64(refs[1]), status: codeUnknownFactory}
	require.Equal(t, int32(0), ti.run(failed, ok, ok, record{kind: kindSpawned, actor: 1, ref: 12345}))
	require.Equal(t, []string{
		`init <0000000000000abc.1> from=<0000000000000000.0> args=""`,
		`recv "" ask=false from=<0000000000000abc.7>`,
		`spawned <0000000000000000.0> mon=0 err=wasmactor: unknown factory pending=1`,
		`spawned <0000000000000def.4> mon=77 err=<nil> pending=0`,
	}, ev)

	// A request the host refuses leaves nothing pending.
	ti = newTestInstance(map[string]func() Actor{"P": func() Actor {
		return &probe{events: new([]string), onMsg: func(ctx *Context, _ Message) {
			require.ErrorIs(t, ctx.SpawnRequest("C", nil, func(*Context, PID, Ref, error) { t.Error("never runs") }, On("n9")), ErrNodeDown)
			require.Zero(t, ctx.Pending())
		}}
	}})
	ti.host.codes["spawn_request"] = codeNodeDown
	require.Equal(t, int32(0), ti.run(startRec(1, "P", nil), tellRec(1, parent, nil)))
}
