package main

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/abi"
	"github.com/wasmactor/wasmactor/internal/proto"
	"github.com/wasmactor/wasmactor/transport"
)

func TestGroups(t *testing.T) {
	f := newFake(t)
	var asked []string
	f.handle = func(_ context.Context, req transport.Control) ([]byte, error) {
		require.Equal(t, proto.KindGroups, req.Kind)
		var r proto.GroupsRequest
		require.NoError(t, proto.Unmarshal(req.Body, &r))
		asked = append(asked, r.Group)
		if r.Group == "nobody" {
			return proto.Marshal([]proto.GroupInfo{}), nil
		}
		return proto.Marshal([]proto.GroupInfo{{Group: "counters", Members: []wasmactor.PID{pidA, pidB}}}), nil
	}
	r := f.run(t, "groups")
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, ""+
		"GROUP     SIZE  MEMBERS\n"+
		"counters  2     <n1.0000000000000abc.7>,<n3.1234567890abcdef.12>\n", r.stdout)
	r = f.run(t, "groups", "counters", "-o", "json")
	require.Equal(t, 0, r.code, r.stderr)
	require.JSONEq(t, `[{"group":"counters","members":[
		{"pid":"<n1.0000000000000abc.7>","node":"n1","incarnation":"0000000000000abc","serial":7},
		{"pid":"<n3.1234567890abcdef.12>","node":"n3","incarnation":"1234567890abcdef","serial":12}]}]`, r.stdout)
	r = f.run(t, "groups", "nobody")
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, "GROUP  SIZE  MEMBERS\n", r.stdout)
	require.Equal(t, []string{"", "counters", "nobody"}, asked)

	r = f.run(t, "groups", "bad name")
	require.Equal(t, exitUsage, r.code)
	require.Contains(t, r.stderr, "no spaces")
}

func TestSendGroup(t *testing.T) {
	f := newFake(t)
	var got proto.GroupMessage
	rep := proto.GroupSendReply{Members: 2, Sent: 2}
	f.handle = func(_ context.Context, req transport.Control) ([]byte, error) {
		require.Equal(t, proto.KindSendGroup, req.Kind)
		require.NoError(t, proto.Unmarshal(req.Body, &got))
		return proto.Marshal(rep), nil
	}
	r := f.run(t, "send", "--group", "counters", `{"op":"reset"}`)
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, "sent to 2 of 2 members of counters\n", r.stdout)
	want, err := JSONToCBOR("message", []byte(`{"op":"reset"}`))
	require.NoError(t, err)
	require.Equal(t, proto.GroupMessage{Group: "counters", Payload: want}, got)

	rep = proto.GroupSendReply{Members: 3, Sent: 1, Refused: 2, Refusals: []proto.Refusal{
		{PID: pidB, Code: uint16(abi.MailboxFull), Message: "wasmactor: mailbox full: sending to " + pidB.String()}}}
	r = f.run(t, "send", "--group", "counters", `{"op":"reset"}`)
	require.Equal(t, exitRejected, r.code)
	require.Equal(t, ""+
		"sent to 1 of 3 members of counters\n"+
		"refused by <n3.1234567890abcdef.12>: mailbox full: sending to <n3.1234567890abcdef.12>\n"+
		"refused by 1 more\n", r.stdout)
	require.Contains(t, r.stderr, "2 of 3 members refused the message")
	r = f.run(t, "send", "--group", "counters", `{"op":"reset"}`, "-o", "json")
	require.Equal(t, exitRejected, r.code)
	require.JSONEq(t, `{"group":"counters","members":3,"sent":1,"refused":2,"refusals":[
		{"pid":"<n3.1234567890abcdef.12>","node":"n3","incarnation":"1234567890abcdef","serial":12,
		 "error":"wasmactor: mailbox full: sending to <n3.1234567890abcdef.12>"}]}`, r.stdout)

	for _, args := range [][]string{
		{"send", "--group", "counters"},
		{"send", "--group", "counters", "target", `{}`},
		{"send", "--group", "bad name", `{}`},
		{"send", "--group", "g", `{bad`},
	} {
		require.Equal(t, exitUsage, f.run(t, args...).code, "%v", args)
	}
}

func TestNodesWatch(t *testing.T) {
	f := newFake(t)
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	polls := 0
	f.handle = func(_ context.Context, req transport.Control) ([]byte, error) {
		switch req.Kind {
		case proto.KindNodes:
			return proto.Marshal(proto.NodesReply{Nodes: []proto.NodeStatus{{Name: "n1", Incarnation: 1, Addr: "127.0.0.1:7946", Up: true}}}), nil
		case proto.KindNodeEvents:
			var r proto.NodeEventsRequest
			require.NoError(t, proto.Unmarshal(req.Body, &r))
			polls++
			switch polls {
			case 1:
				require.Equal(t, proto.NodeEventsRequest{}, r, "the cursor first, without waiting")
				return proto.Marshal(proto.NodeEventsReply{Next: 4, Events: []proto.NodeEvent{{Seq: 4, Node: "old"}}}), nil
			case 2:
				require.Equal(t, proto.NodeEventsRequest{After: 4, WaitMs: watchPoll.Milliseconds()}, r)
				return proto.Marshal(proto.NodeEventsReply{Next: 6, Events: []proto.NodeEvent{
					{Seq: 5, Node: "n2", Incarnation: 2, Addr: "127.0.0.1:7947", Up: true, Reason: "joined", UnixMs: at.UnixMilli()},
					{Seq: 6, Node: "n2", Incarnation: 2, Reason: "timeout", UnixMs: at.Add(time.Second).UnixMilli()},
				}}), nil
			case 3:
				require.Equal(t, uint64(6), r.After)
				return proto.Marshal(proto.NodeEventsReply{Next: 300, Missed: 200, Events: []proto.NodeEvent{
					{Seq: 300, Node: "n3", Incarnation: 3, Reason: "left", UnixMs: at.UnixMilli()}}}), nil
			}
			return nil, errors.New("connection lost")
		}
		return nil, errors.New("unexpected kind")
	}
	r := f.run(t, "nodes", "--watch")
	require.Equal(t, exitUnreachable, r.code, "the watch ends when the node goes away")
	require.Contains(t, r.stderr, "connection lost")
	local := func(d time.Duration) string { return at.Add(d).Local().Format("15:04:05.000") }
	require.Equal(t, ""+
		"NAME  ADDR            INCARNATION       STATUS  ACTORS  INSTANCES  MODULES\n"+
		"n1    127.0.0.1:7946  0000000000000001  up      0       0          0\n"+
		local(0)+"  n2  up  joined  0000000000000002\n"+
		local(time.Second)+"  n2  down  timeout  0000000000000002\n"+
		"(200 events missed: run 'wasmactor nodes' for the current state)\n"+
		local(0)+"  n3  down  left  0000000000000003\n", r.stdout)

	polls = 0
	r = f.run(t, "nodes", "-w", "-o", "json")
	require.Equal(t, exitUnreachable, r.code)
	require.Equal(t, ""+
		`{"nodes":[{"name":"n1","addr":"127.0.0.1:7946","incarnation":"0000000000000001","up":true,"actors":0,"instances":0,"modules":0}],"errors":[]}`+"\n"+
		`{"seq":5,"at":"2026-12-01T10:00:00Z","node":"n2","incarnation":"0000000000000002","addr":"127.0.0.1:7947","up":true,"reason":"joined"}`+"\n"+
		`{"seq":6,"at":"2026-12-01T10:00:01Z","node":"n2","incarnation":"0000000000000002","up":false,"reason":"timeout"}`+"\n"+
		`{"missed":200}`+"\n"+
		`{"seq":300,"at":"2026-12-01T10:00:00Z","node":"n3","incarnation":"0000000000000003","up":false,"reason":"left"}`+"\n", r.stdout)
}
