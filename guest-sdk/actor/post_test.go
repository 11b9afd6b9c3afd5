//go:build !wasip1

package actor

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

// postOps are the host calls made, with each post's and send's payload.
func postOps(h *fakeHost) []string {
	var out []string
	for _, c := range h.calls {
		switch c.op {
		case "post", "send":
			out = append(out, c.op+" "+string(c.data))
		default:
			out = append(out, c.op)
		}
	}
	return out
}

// Posted tells reach the host before any later request of the instance,
// so every request keeps the order the code made it in.
func TestPostsKeepTheirOrderWithOtherRequests(t *testing.T) {
	target := PID{Incarnation: 0xabc, Serial: 9}
	ti := newTestInstance(map[string]func() Actor{"P": func() Actor {
		return &probe{events: new([]string), onMsg: func(ctx *Context, _ Message) {
			ctx.PostRaw(target, []byte("a"))
			ctx.PostRaw(target, []byte("b"))
			require.NoError(t, ctx.SendRaw(target, []byte("c")))
			ctx.PostRaw(target, []byte("d"))
			require.NoError(t, ctx.AskRaw(target, []byte("q"), 0, func(*Context, Message, error) {}))
			ctx.PostRaw(target, []byte("e"))
			require.NoError(t, ctx.Kill(target, ""))
			ctx.PostRaw(target, []byte("f"))
			ctx.Stop("done")
		}}
	}})
	require.Equal(t, int32(0), ti.run(startRec(1, "P", nil), tellRec(1, parent, nil)))
	require.Equal(t, []string{"post a", "post b", "send c", "post d", "ask", "post e", "kill", "post f", "stop"}, postOps(ti.host))
	for _, c := range ti.host.calls {
		require.Equal(t, uint64(1), c.actor, c.op)
		if c.op == "post" {
			require.Equal(t, target, c.to)
		}
	}
}

// A callback's posts are sent when it returns: before the next record of
// the batch runs, and before a Terminate's requests.
func TestPostsGoOutWhenTheCallbackReturns(t *testing.T) {
	target := PID{Incarnation: 0xabc, Serial: 9}
	var seen []string
	var ti *testInstance
	ti = newTestInstance(map[string]func() Actor{
		"Poster": func() Actor {
			return &probe{events: new([]string), onMsg: func(ctx *Context, _ Message) { ctx.PostRaw(target, []byte("x")) }}
		},
		"Watcher": func() Actor {
			return &probe{events: new([]string), onMsg: func(ctx *Context, _ Message) { seen = postOps(ti.host) }}
		},
	})
	require.Equal(t, int32(0), ti.run(startRec(1, "Poster", nil), startRec(2, "Watcher", nil),
		tellRec(1, parent, nil), tellRec(2, parent, nil)))
	require.Equal(t, []string{"post x"}, seen, "actor 1's post went before actor 2 ran")

	// In a Terminate run by a STOP record, too.
	ti.host.calls = nil
	term := &stopPoster{to: target}
	ti.factories["T"] = &factory{name: "T", new: func() Actor { return term }}
	require.Equal(t, int32(0), ti.run(startRec(3, "T", nil), record{kind: kindStop, actor: 3, payload: []byte("killed")}))
	require.Equal(t, []string{"post bye"}, postOps(ti.host))
}

type stopPoster struct{ to PID }

func (*stopPoster) Receive(*Context, Message) {}

func (s *stopPoster) Terminate(ctx *Context, _ string) { ctx.PostRaw(s.to, []byte("bye")) }

// Refused posts reach their sender: Flush reports them, and Refused counts
// them whether Flush or the end of the callback sent them.
func TestPostRefusalsReachTheSender(t *testing.T) {
	ok, full := PID{Incarnation: 0xabc, Serial: 8}, PID{Incarnation: 0xabc, Serial: 9}
	var flushErr, emptyFlush error
	var refused []uint64
	ti := newTestInstance(map[string]func() Actor{"P": func() Actor {
		return &probe{events: new([]string), onMsg: func(ctx *Context, msg Message) {
			switch string(msg.Bytes()) {
			case "flush":
				for _, to := range []PID{ok, full, ok, full} {
					ctx.PostRaw(to, []byte("m"))
				}
				flushErr = ctx.Flush()
				emptyFlush = ctx.Flush()
			case "implicit":
				ctx.PostRaw(full, []byte("m"))
			}
			refused = append(refused, ctx.Refused())
		}}
	}})
	ti.host.refuse = map[uint64]uint32{9: codeMailboxFull}
	require.Equal(t, int32(0), ti.run(startRec(1, "P", nil), tellRec(1, parent, []byte("flush")),
		tellRec(1, parent, []byte("implicit")), tellRec(1, parent, []byte("count"))))
	var pe *PostError
	require.ErrorAs(t, flushErr, &pe)
	require.Equal(t, 2, pe.Refused)
	require.ErrorIs(t, flushErr, ErrMailboxFull)
	require.Equal(t, "wasmactor: 2 posted messages refused, the first: wasmactor: mailbox full", flushErr.Error())
	require.NoError(t, emptyFlush, "nothing left to send")
	require.Equal(t, []uint64{2, 2, 3}, refused, "the implicit flush's refusal is counted once the callback returned")
}

// A batch the host refuses whole (the actor may no longer send) counts
// every post in it.
func TestPostBatchRefusedWhole(t *testing.T) {
	var err error
	var refused uint64
	ti := newTestInstance(map[string]func() Actor{"P": func() Actor {
		return &probe{events: new([]string), onMsg: func(ctx *Context, _ Message) {
			ctx.PostRaw(parent, []byte("1"))
			ctx.PostRaw(parent, []byte("2"))
			err = ctx.Flush()
			refused = ctx.Refused()
		}}
	}})
	ti.host.codes["send_batch"] = codeBadArgument
	require.Equal(t, int32(0), ti.run(startRec(1, "P", nil), tellRec(1, parent, nil)))
	require.ErrorIs(t, err, ErrBadArgument)
	require.Equal(t, uint64(2), refused)
}

// Large payloads bypass the outbox but keep their place; a full outbox is
// sent mid-callback; every byte arrives as posted.
func TestPostLargeAndMany(t *testing.T) {
	big := bytes.Repeat([]byte("L"), postMax+1)
	const many = 5000
	ti := newTestInstance(map[string]func() Actor{"P": func() Actor {
		return &probe{events: new([]string), onMsg: func(ctx *Context, _ Message) {
			ctx.PostRaw(parent, []byte("before"))
			ctx.PostRaw(parent, big)
			for i := range many {
				ctx.PostRaw(parent, AppendUint(nil, uint64(i)))
			}
		}}
	}})
	require.Equal(t, int32(0), ti.run(startRec(1, "P", nil), tellRec(1, parent, nil)))
	ops := postOps(ti.host)
	require.Len(t, ops, 2+many)
	require.Equal(t, "post before", ops[0])
	require.Equal(t, "send "+string(big), ops[1])
	for i := range many {
		require.Equal(t, "post "+string(AppendUint(nil, uint64(i))), ops[2+i])
	}
	require.LessOrEqual(t, len(ti.out.buf), outboxFlushAt, "the outbox stays bounded")
}

// A post by another actor than the one whose posts wait sends those first,
// so each batch is one actor's.
func TestPostByAnotherActorFlushesFirst(t *testing.T) {
	var other *Context
	ti := newTestInstance(map[string]func() Actor{"P": func() Actor {
		return &probe{events: new([]string), onMsg: func(ctx *Context, msg Message) {
			if other == nil {
				other = ctx
				return
			}
			ctx.PostRaw(parent, []byte("mine"))
			other.PostRaw(parent, []byte("theirs")) // a Context kept past its callback: misuse, still ordered
		}}
	}})
	require.Equal(t, int32(0), ti.run(startRec(1, "P", nil), startRec(2, "P", nil),
		tellRec(1, parent, nil), tellRec(2, parent, nil)))
	require.Len(t, ti.host.calls, 2)
	require.Equal(t, uint64(2), ti.host.calls[0].actor)
	require.Equal(t, uint64(1), ti.host.calls[1].actor)
}
