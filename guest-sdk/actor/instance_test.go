//go:build !wasip1

package actor

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/stretchr/testify/require"
)

// probe is a test actor that records what happens to it and does what its
// messages say.
type probe struct {
	events *[]string
	onMsg  func(ctx *Context, msg Message)
	init   func(ctx *Context, args Message) error
}

func (p *probe) logf(format string, args ...any) {
	*p.events = append(*p.events, fmt.Sprintf(format, args...))
}

func (p *probe) Init(ctx *Context, args Message) error {
	p.logf("init %s from=%v args=%q", ctx.Self(), args.From(), args.Bytes())
	if p.init != nil {
		return p.init(ctx, args)
	}
	return nil
}

func (p *probe) Receive(ctx *Context, msg Message) {
	p.logf("recv %q ask=%v from=%v", msg.Bytes(), msg.IsAsk(), msg.From())
	if p.onMsg != nil {
		p.onMsg(ctx, msg)
	}
}

func (p *probe) Terminate(ctx *Context, reason string) { p.logf("terminate %s", reason) }

func (p *probe) HandleDown(ctx *Context, d Down) {
	p.logf("down ref=%d pid=%v reason=%s", d.Ref, d.PID, d.Reason)
}

func (p *probe) HandleExit(ctx *Context, e Exit) { p.logf("exit pid=%v reason=%s", e.PID, e.Reason) }

func probeFactory(events *[]string, onMsg func(*Context, Message)) func() Actor {
	return func() Actor { return &probe{events: events, onMsg: onMsg} }
}

var parent = PID{Incarnation: 0xabc, Serial: 7}

func TestStartTellAsk(t *testing.T) {
	var ev []string
	ti := newTestInstance(map[string]func() Actor{"P": probeFactory(&ev, func(ctx *Context, msg Message) {
		if msg.IsAsk() {
			require.NoError(t, ctx.ReplyRaw(append([]byte("re:"), msg.Bytes()...)))
			require.ErrorIs(t, ctx.ReplyRaw(nil), ErrNotAsk, "one reply per ask")
		} else {
			require.ErrorIs(t, ctx.Reply("x"), ErrNotAsk)
		}
	})})

	host := PID{Incarnation: 0, Serial: 99}
	rc := ti.run(
		startRec(10, "P", []byte("args")),
		record{kind: 200, actor: 10, payload: []byte("future kind")},
		tellRec(10, parent, []byte("hello")),
		askRec(10, host, 42, []byte("q")),
		tellRec(11, parent, []byte("nobody")),
	)
	require.Equal(t, int32(0), rc, ti.host.failure)
	require.Equal(t, []string{
		`init <0000000000000abc.10> from=<0000000000000000.0> args="args"`,
		`recv "hello" ask=false from=<0000000000000abc.7>`,
		`recv "q" ask=true from=<0000000000000000.99>`,
	}, ev)

	r := ti.host.only(t, "reply")
	require.Equal(t, uint64(10), r.actor)
	require.Equal(t, host, r.to)
	require.Equal(t, uint64(42), r.ref)
	require.Equal(t, []byte("re:q"), r.data)
}

func TestStartParentAndContextBasics(t *testing.T) {
	var got *Context
	ti := newTestInstance(map[string]func() Actor{"P": func() Actor {
		return &probe{events: new([]string), init: func(ctx *Context, _ Message) error {
			got = ctx
			return nil
		}}
	}})
	require.Equal(t, int32(0), ti.run(record{kind: kindStart, actor: 3, from: parent, payload: startPayload("P", nil)}))
	require.Equal(t, PID{Incarnation: 0xabc, Serial: 3}, got.Self())
	require.Equal(t, parent, got.Parent())
	require.Equal(t, "P", got.Factory())
}

func TestUnknownFactoryStopsOnlyThatActor(t *testing.T) {
	var ev []string
	ti := newTestInstance(map[string]func() Actor{"P": probeFactory(&ev, nil)})
	rc := ti.run(startRec(1, "Nope", nil), tellRec(1, parent, []byte("x")), startRec(2, "P", nil))
	require.Equal(t, int32(0), rc)
	stop := ti.host.only(t, "stop")
	require.Equal(t, uint64(1), stop.actor)
	require.Contains(t, stop.text, "unknown factory")
	require.Equal(t, []string{`init <0000000000000abc.2> from=<0000000000000000.0> args=""`}, ev)
}

func TestInitErrorStopsWithoutTerminate(t *testing.T) {
	var ev []string
	ti := newTestInstance(map[string]func() Actor{"P": func() Actor {
		return &probe{events: &ev, init: func(*Context, Message) error { return errors.New("bad args") }}
	}})
	rc := ti.run(startRec(1, "P", nil), tellRec(1, parent, []byte("x")))
	require.Equal(t, int32(0), rc)
	require.Equal(t, []string{`init <0000000000000abc.1> from=<0000000000000000.0> args=""`}, ev, "no Receive, no Terminate")
	stop := ti.host.only(t, "stop")
	require.Equal(t, "bad args", stop.text)
}

func TestStopDropsLaterRecords(t *testing.T) {
	var ev []string
	ti := newTestInstance(map[string]func() Actor{"P": probeFactory(&ev, func(ctx *Context, msg Message) {
		if string(msg.Bytes()) == "stop" {
			ctx.Stop("done")
			ctx.Stop("ignored: already stopping")
			// Still alive on the host until the callback returns.
			require.NoError(t, ctx.SendRaw(parent, []byte("bye")))
		}
	})})
	rc := ti.run(
		startRec(1, "P", nil),
		tellRec(1, parent, []byte("a")),
		tellRec(1, parent, []byte("stop")),
		tellRec(1, parent, []byte("dropped")),
		askRec(1, parent, 5, []byte("dropped too")),
	)
	require.Equal(t, int32(0), rc)
	require.Equal(t, []string{
		`init <0000000000000abc.1> from=<0000000000000000.0> args=""`,
		`recv "a" ask=false from=<0000000000000abc.7>`,
		`recv "stop" ask=false from=<0000000000000abc.7>`,
		`terminate done`,
	}, ev)
	require.Equal(t, []string{"send", "stop"}, ti.host.ops(), "Terminate runs before the stop import")
	require.Equal(t, "done", ti.host.only(t, "stop").text)

	// A later batch for the stopped actor is dropped too.
	require.Equal(t, int32(0), ti.run(tellRec(1, parent, []byte("late"))))
	require.Len(t, ev, 4)
}

func TestStopEmptyReasonIsNormal(t *testing.T) {
	var ev []string
	ti := newTestInstance(map[string]func() Actor{"P": probeFactory(&ev, func(ctx *Context, _ Message) { ctx.Stop("") })})
	require.Equal(t, int32(0), ti.run(startRec(1, "P", nil), tellRec(1, parent, nil)))
	require.Equal(t, "terminate normal", ev[len(ev)-1])
	require.Equal(t, "", ti.host.only(t, "stop").text, "empty reason crosses the ABI as empty")
}

func TestHostStop(t *testing.T) {
	var ev []string
	ti := newTestInstance(map[string]func() Actor{"P": probeFactory(&ev, nil)})
	rc := ti.run(
		startRec(1, "P", nil),
		record{kind: kindStop, actor: 1, payload: []byte("killed")},
		tellRec(1, parent, []byte("after stop")),
	)
	require.Equal(t, int32(0), rc)
	require.Equal(t, []string{`init <0000000000000abc.1> from=<0000000000000000.0> args=""`, "terminate killed"}, ev)
	require.Empty(t, ti.host.calls, "the host already counts the actor dead: no stop import")
}

func TestDownAndExit(t *testing.T) {
	var ev []string
	ti := newTestInstance(map[string]func() Actor{
		"P": probeFactory(&ev, nil),
		"N": func() Actor { return nopActor{} }, // no handlers: ignored
	})
	dead := PID{Incarnation: 0xabc, Serial: 77}
	rc := ti.run(
		startRec(1, "P", nil),
		startRec(2, "N", nil),
		record{kind: kindDown, actor: 1, from: dead, ref: 501, payload: []byte("noproc")},
		record{kind: kindExit, actor: 1, from: dead, payload: []byte("boom")},
		record{kind: kindDown, actor: 2, from: dead, ref: 502, payload: []byte("normal")},
		record{kind: kindExit, actor: 2, from: dead, payload: []byte("boom")},
	)
	require.Equal(t, int32(0), rc)
	require.Equal(t, []string{
		`init <0000000000000abc.1> from=<0000000000000000.0> args=""`,
		"down ref=501 pid=<0000000000000abc.77> reason=noproc",
		"exit pid=<0000000000000abc.77> reason=boom",
	}, ev)
}

type nopActor struct{}

func (nopActor) Receive(*Context, Message) {}

func TestAskCorrelation(t *testing.T) {
	var ev []string
	target := PID{Incarnation: 0xabc, Serial: 2}
	ti := newTestInstance(map[string]func() Actor{"P": probeFactory(&ev, func(ctx *Context, msg Message) {
		// The message view dies with this turn: the continuation keeps a copy.
		name := string(msg.Bytes())
		err := ctx.AskRaw(target, msg.Bytes(), 250*time.Millisecond, func(ctx *Context, reply Message, err error) {
			ev = append(ev, fmt.Sprintf("cont %s %q %v pending=%d", name, reply.Bytes(), err, ctx.Pending()))
		})
		require.NoError(t, err)
	})})
	require.Equal(t, int32(0), ti.run(startRec(1, "P", nil), tellRec(1, parent, []byte("one")), tellRec(1, parent, []byte("two"))))

	var refs []uint64
	for _, c := range ti.host.calls {
		require.Equal(t, "ask", c.op)
		require.Equal(t, target, c.to)
		require.Equal(t, uint32(250), c.ms)
		refs = append(refs, c.ref)
	}
	require.Len(t, refs, 2)
	require.NotEqual(t, refs[0], refs[1], "refs are unique per actor")
	ev = nil

	// Answers in the reverse order, one timing out; an unknown ref and a
	// duplicate answer are ignored.
	rc := ti.run(
		replyRec(1, refs[1], 0, []byte("ans2")),
		replyRec(1, 12345, 0, []byte("stray")),
		replyRec(1, refs[0], codeTimeout, nil),
		replyRec(1, refs[1], 0, []byte("dup")),
	)
	require.Equal(t, int32(0), rc)
	require.Equal(t, []string{
		`cont two "ans2" <nil> pending=1`,
		`cont one "" wasmactor: timeout pending=0`,
	}, ev)
}

func TestAskFailureStatuses(t *testing.T) {
	for _, tc := range []struct {
		status uint16
		want   error
	}{
		{codeTimeout, ErrTimeout},
		{codeNoProc, ErrNoProc},
		{codeMailboxFull, ErrMailboxFull},
		{codeNodeDown, ErrNodeDown},
		{999, ErrInternal},
	} {
		var got error
		called := 0
		ti := newTestInstance(map[string]func() Actor{"P": func() Actor {
			return &probe{events: new([]string), onMsg: func(ctx *Context, _ Message) {
				require.NoError(t, ctx.AskRaw(parent, nil, 0, func(_ *Context, _ Message, err error) { got = err; called++ }))
			}}
		}})
		require.Equal(t, int32(0), ti.run(startRec(1, "P", nil), tellRec(1, parent, nil)))
		ask := ti.host.only(t, "ask")
		require.Equal(t, uint32(0), ask.ms, "0 means the host default")
		require.Equal(t, int32(0), ti.run(replyRec(1, ask.ref, tc.status, nil)))
		require.Equal(t, 1, called)
		require.ErrorIs(t, got, tc.want)
	}
}

func TestAskImportErrorNeverContinues(t *testing.T) {
	called := false
	var askErr error
	ti := newTestInstance(map[string]func() Actor{"P": func() Actor {
		return &probe{events: new([]string), onMsg: func(ctx *Context, _ Message) {
			askErr = ctx.Ask(parent, "hi", time.Second, func(*Context, Message, error) { called = true })
			require.Equal(t, 0, ctx.Pending())
			require.ErrorIs(t, ctx.AskRaw(parent, nil, 0, nil), ErrBadArgument)
		}}
	}})
	ti.host.codes["ask"] = codeNoProc
	require.Equal(t, int32(0), ti.run(startRec(1, "P", nil), tellRec(1, parent, nil)))
	require.ErrorIs(t, askErr, ErrNoProc)
	ask := ti.host.only(t, "ask")
	require.Equal(t, int32(0), ti.run(replyRec(1, ask.ref, 0, nil)))
	require.False(t, called)
}

func TestDeferredReply(t *testing.T) {
	var kept Request
	ti := newTestInstance(map[string]func() Actor{"P": func() Actor {
		return &probe{events: new([]string), onMsg: func(ctx *Context, msg Message) {
			if msg.IsAsk() {
				var ok bool
				kept, ok = ctx.Request()
				require.True(t, ok)
				return
			}
			_, ok := ctx.Request()
			require.False(t, ok)
			require.NoError(t, ctx.ReplyTo(kept, map[string]int{"late": 1}))
		}}
	}})
	require.Equal(t, int32(0), ti.run(startRec(1, "P", nil), askRec(1, parent, 9, nil), tellRec(1, parent, nil)))
	r := ti.host.only(t, "reply")
	require.Equal(t, parent, r.to)
	require.Equal(t, uint64(9), r.ref)
	var v map[string]int
	require.NoError(t, cbor.Unmarshal(r.data, &v))
	require.Equal(t, map[string]int{"late": 1}, v)
}

func TestPanicFailsInstance(t *testing.T) {
	var ev []string
	ti := newTestInstance(map[string]func() Actor{"P": probeFactory(&ev, func(ctx *Context, msg Message) {
		if string(msg.Bytes()) == "crash" {
			panic("boom")
		}
	})})
	rc := ti.run(startRec(1, "P", nil), tellRec(1, parent, []byte("crash")), tellRec(1, parent, []byte("never")))
	require.Equal(t, int32(1), rc)
	require.Equal(t, "panic: boom", ti.host.failure)
	require.Len(t, ev, 2, "records after the panic are not delivered")

	// The instance stays failed.
	ti.host.failure = ""
	require.Equal(t, int32(1), ti.run(tellRec(1, parent, nil)))
	require.NotEmpty(t, ti.host.failure)
	_, refusal := ti.snapshot(1)
	require.Equal(t, snapNoActor, refusal, "a broken instance holds no actors")
}

func TestPanicInInitAndContinuation(t *testing.T) {
	ti := newTestInstance(map[string]func() Actor{"P": func() Actor {
		return &probe{events: new([]string), init: func(*Context, Message) error { panic(errors.New("init exploded")) }}
	}})
	require.Equal(t, int32(1), ti.run(startRec(1, "P", nil)))
	require.Equal(t, "panic: init exploded", ti.host.failure)

	ti = newTestInstance(map[string]func() Actor{"P": func() Actor {
		return &probe{events: new([]string), onMsg: func(ctx *Context, _ Message) {
			require.NoError(t, ctx.AskRaw(parent, nil, 0, func(*Context, Message, error) {
				var v any = 1
				_ = v.(string) // a runtime error, as real bugs produce
			}))
		}}
	}})
	require.Equal(t, int32(0), ti.run(startRec(1, "P", nil), tellRec(1, parent, nil)))
	require.Equal(t, int32(1), ti.run(replyRec(1, ti.host.only(t, "ask").ref, 0, nil)))
	require.True(t, strings.HasPrefix(ti.host.failure, "panic: interface conversion: interface {} is int, not string"), ti.host.failure)
}

// snapActor is a counter with snapshots.
type snapActor struct {
	n       uint64
	failErr error
}

func (a *snapActor) Receive(_ *Context, msg Message) { a.n += uint64(msg.Len()) }
func (a *snapActor) Snapshot() ([]byte, error) {
	if a.failErr != nil {
		return nil, a.failErr
	}
	return binary.LittleEndian.AppendUint64(nil, a.n), nil
}
func (a *snapActor) Restore(state []byte) error {
	if len(state) != 8 {
		return errors.New("bad state")
	}
	a.n = binary.LittleEndian.Uint64(state)
	return nil
}

func TestSnapshotRestore(t *testing.T) {
	var ev []string
	ti := newTestInstance(map[string]func() Actor{
		"S": func() Actor { return &snapActor{} },
		"P": probeFactory(&ev, nil),
	})
	require.Equal(t, int32(0), ti.run(startRec(1, "S", nil), tellRec(1, parent, []byte("12345")), startRec(2, "P", nil)))
	state, refusal := ti.snapshot(1)
	require.Zero(t, refusal)
	require.Equal(t, uint64(5), binary.LittleEndian.Uint64(state))
	state = bytes.Clone(state)

	// Each refusal says why, and leaves the actor as it was.
	var diag bytes.Buffer
	ti.diag = &diag
	_, refusal = ti.snapshot(2)
	require.Equal(t, snapUnsupported, refusal, "no Snapshotter")
	_, refusal = ti.snapshot(99)
	require.Equal(t, snapNoActor, refusal, "no such actor")
	ti.actors.get(1).actor.(*snapActor).failErr = errors.New("cannot")
	_, refusal = ti.snapshot(1)
	require.Equal(t, snapFailed, refusal, "Snapshot error")
	require.Contains(t, diag.String(), "actor 1: Snapshot: cannot")
	ti.actors.get(1).actor.(*snapActor).failErr = nil
	require.Equal(t, int32(0), ti.run(tellRec(1, parent, []byte("1"))))
	require.Equal(t, uint64(6), ti.actors.get(1).actor.(*snapActor).n)

	// Restore in another instance, as a migration does.
	ev = nil
	ti2 := newTestInstance(map[string]func() Actor{"S": func() Actor { return &snapActor{} }, "P": probeFactory(&ev, nil)})
	rc := ti2.run(
		record{kind: kindRestore, actor: 1, payload: startPayload("S", state)},
		record{kind: kindRestore, actor: 2, payload: startPayload("S", []byte("short"))},
		record{kind: kindRestore, actor: 3, payload: startPayload("P", state)},
		tellRec(1, parent, []byte("xy")),
	)
	require.Equal(t, int32(0), rc)
	require.Equal(t, uint64(7), ti2.actors.get(1).actor.(*snapActor).n)
	var stops []string
	for _, c := range ti2.host.calls {
		if c.op == "stop" {
			stops = append(stops, fmt.Sprintf("%d %s", c.actor, c.text))
		}
	}
	require.Equal(t, []string{"2 bad state", `3 wasmactor: factory "P" cannot restore a snapshot`}, stops)
	require.Empty(t, ev, "a restored actor does not run Init")
}

// versioned writes its snapshots with a version and reads several.
type versioned struct {
	snapActor
	version  uint32
	restored []string
}

func (v *versioned) SnapshotVersion() uint32 { return v.version }
func (v *versioned) RestoreVersion(version uint32, state []byte) error {
	v.restored = append(v.restored, fmt.Sprintf("v%d %x", version, state))
	if version > 2 {
		return fmt.Errorf("snapshot version %d is newer than this code", version)
	}
	return nil
}

func TestSnapshotVersions(t *testing.T) {
	ti := newTestInstance(map[string]func() Actor{
		"Old": func() Actor { return &snapActor{} },
		"V2":  func() Actor { return &versioned{version: 2} },
		"V3":  func() Actor { return &versioned{version: 3} },
	})
	require.Equal(t, int32(0), ti.run(startRec(1, "Old", nil), tellRec(1, parent, []byte("abc")), startRec(2, "V2", nil), startRec(3, "V3", nil)))
	old, refusal := ti.snapshot(1)
	require.Zero(t, refusal)
	require.Len(t, old, 8, "no version: the state as Snapshot returned it")
	old = bytes.Clone(old)
	v2, _ := ti.snapshot(2)
	require.Equal(t, append([]byte("\xffwas\x02\x00\x00\x00"), make([]byte, 8)...), v2)
	v2 = bytes.Clone(v2)
	v3, _ := ti.snapshot(3)
	v3 = bytes.Clone(v3)

	// A new version reads the old format as version 0, its own as 2, and
	// refuses a format it does not know; a version-blind actor gets the
	// state without the version.
	ti2 := newTestInstance(map[string]func() Actor{"V": func() Actor { return &versioned{version: 2} }, "Old": func() Actor { return &snapActor{} }})
	require.Equal(t, int32(0), ti2.run(
		record{kind: kindRestore, actor: 1, payload: startPayload("V", old)},
		record{kind: kindRestore, actor: 2, payload: startPayload("V", v2)},
		record{kind: kindRestore, actor: 3, payload: startPayload("V", v3)},
		record{kind: kindRestore, actor: 4, payload: startPayload("Old", v2)},
	))
	require.Equal(t, []string{"v0 0300000000000000"}, ti2.actors.get(1).actor.(*versioned).restored)
	require.Equal(t, []string{"v2 0000000000000000"}, ti2.actors.get(2).actor.(*versioned).restored)
	require.Nil(t, ti2.actors.get(3))
	require.Equal(t, uint64(0), ti2.actors.get(4).actor.(*snapActor).n)
	stop := ti2.host.only(t, "stop")
	require.Equal(t, "snapshot version 3 is newer than this code", stop.text)
}

// panicky panics in Restore.
type panicky struct{ snapActor }

func (*panicky) Restore([]byte) error { panic("restore exploded") }

func TestPanicInRestoreRefusesTheMoveOnly(t *testing.T) {
	var ev []string
	ti := newTestInstance(map[string]func() Actor{"X": func() Actor { return &panicky{} }, "P": probeFactory(&ev, nil)})
	rc := ti.run(startRec(1, "P", nil), record{kind: kindRestore, actor: 2, payload: startPayload("X", nil)}, tellRec(1, parent, []byte("after")))
	require.Equal(t, int32(0), rc, "the instance goes on")
	require.Empty(t, ti.host.failure)
	require.Equal(t, "panic in Restore: restore exploded", ti.host.only(t, "stop").text)
	require.Len(t, ev, 2)
	require.Contains(t, ev[1], `recv "after"`)
}

func TestDropForgetsWithoutTerminate(t *testing.T) {
	var ev []string
	ti := newTestInstance(map[string]func() Actor{"P": probeFactory(&ev, nil)})
	require.Equal(t, int32(0), ti.run(startRec(1, "P", nil), record{kind: kindDrop, actor: 1}, tellRec(1, parent, []byte("late")), record{kind: kindDrop, actor: 7}))
	require.Nil(t, ti.actors.get(1))
	for _, e := range ev {
		require.NotContains(t, e, "terminate")
		require.NotContains(t, e, "late")
	}
	require.Empty(t, ti.host.calls, "no stop: the actor lives on elsewhere")
}

func TestContextRequests(t *testing.T) {
	target := PID{Incarnation: 5, Serial: 6}
	var ctxErrs []error
	ti := newTestInstance(map[string]func() Actor{"P": func() Actor {
		return &probe{events: new([]string), onMsg: func(ctx *Context, _ Message) {
			pid, err := ctx.Spawn("Child", map[string]int{"a": 1}, SpawnLink, SpawnIsolated)
			require.NoError(t, err)
			require.Equal(t, PID{Incarnation: 0xabc, Serial: 1001}, pid)
			_, err = ctx.SpawnRaw("Plain", nil)
			require.NoError(t, err)
			require.NoError(t, ctx.Kill(target, "because"))
			ref, err := ctx.Monitor(target)
			require.NoError(t, err)
			require.Equal(t, Ref(501), ref)
			ctx.Demonitor(ref)
			ctxErrs = append(ctxErrs, ctx.Link(target))
			ctx.Unlink(target)
			ctx.TrapExit(true)
			require.NoError(t, ctx.Register("svc"))
			got, err := ctx.Whereis("svc")
			require.NoError(t, err)
			require.Equal(t, ctx.Self(), got)
			_, err = ctx.Whereis("nobody")
			require.ErrorIs(t, err, ErrNotFound)
			ctx.Unregister("svc")
			timer, err := ctx.SendAfter(target, 1500*time.Millisecond, "later")
			require.NoError(t, err)
			require.NoError(t, ctx.Send(target, []int{1, 2}))
			ctx.Log(LevelWarn, "hello world", "n", 3, "who", target, "s", "a b", "odd")
			require.True(t, timer.Cancel())
			require.False(t, Timer{}.Cancel(), "the zero Timer is none")
		}}
	}})
	ti.host.codes["link"] = codeNoProc
	require.Equal(t, int32(0), ti.run(startRec(1, "P", nil), tellRec(1, parent, nil)))
	require.ErrorIs(t, ctxErrs[0], ErrNoProc)
	require.Equal(t, []string{"spawn", "spawn", "kill", "monitor", "demonitor", "link", "unlink", "trap_exit",
		"register", "whereis", "whereis", "unregister", "send_after", "send", "log", "cancel_timer"}, ti.host.ops())

	c := ti.host.calls
	require.Equal(t, "Child", c[0].text)
	require.Equal(t, uint32(3), c[0].flags)
	require.Equal(t, []byte{0xa1, 0x61, 'a', 0x01}, c[0].data)
	require.Equal(t, uint32(0), c[1].flags)
	require.Empty(t, c[1].data, "nil args cross as empty")
	require.Equal(t, "because", c[2].text)
	require.Equal(t, uint64(501), c[4].ref)
	require.Equal(t, uint32(1), c[7].flags)
	require.Equal(t, uint32(1500), c[12].ms)
	require.Equal(t, []byte{0x82, 0x01, 0x02}, c[13].data)
	require.Equal(t, uint32(LevelWarn), c[14].flags)
	require.Equal(t, `hello world n=3 who=<0000000000000005.6> s="a b" !BADKEY=odd`, c[14].text)
	require.Equal(t, uint64(1), c[15].ref, "the id send_after gave")
	for _, x := range c {
		if x.op != "whereis" {
			require.Equal(t, uint64(1), x.actor, x.op)
		}
	}
}

func TestRequestErrorsMapCodes(t *testing.T) {
	for code := uint32(1); code <= codeLimit; code++ {
		ti := newTestInstance(map[string]func() Actor{"P": func() Actor {
			return &probe{events: new([]string), onMsg: func(ctx *Context, _ Message) {
				require.ErrorIs(t, ctx.SendRaw(parent, nil), codeErrors[code])
				_, err := ctx.SpawnRaw("X", nil)
				require.ErrorIs(t, err, codeErrors[code])
				timer, err := ctx.SendAfterRaw(parent, time.Second, nil)
				require.ErrorIs(t, err, codeErrors[code])
				require.False(t, timer.Cancel(), "no timer was armed")
			}}
		}})
		ti.host.codes["send"] = code
		ti.host.codes["spawn"] = code
		ti.host.codes["send_after"] = code
		require.Equal(t, int32(0), ti.run(startRec(1, "P", nil), tellRec(1, parent, nil)))
	}
	require.NoError(t, codeError(0))
	require.ErrorIs(t, codeError(13), ErrInternal)
	require.Equal(t, "wasmactor: error code 13", codeError(13).Error())
	require.ErrorIs(t, codeError(codeNotInGuest), ErrNotInGuest)
	for _, e := range codeErrors[1:] {
		require.True(t, strings.HasPrefix(e.Error(), "wasmactor: "))
	}
}

// A refused monitor (the host's 0, never a ref) is the actor's LIMIT.
func TestMonitorRefusedIsLimit(t *testing.T) {
	var errs []error
	ti := newTestInstance(map[string]func() Actor{"P": func() Actor {
		return &probe{events: new([]string), onMsg: func(ctx *Context, _ Message) {
			ref, err := ctx.Monitor(parent)
			require.Zero(t, ref)
			errs = append(errs, err)
		}}
	}})
	ti.host.codes["monitor"] = codeLimit
	require.Equal(t, int32(0), ti.run(startRec(1, "P", nil), tellRec(1, parent, nil)))
	require.Len(t, errs, 1)
	require.ErrorIs(t, errs[0], ErrLimit)
}

// wasmactor_snapshotters lists the factories whose actors implement
// Snapshotter, sorted; a constructor that panics counts as not.
func TestSnapshotterList(t *testing.T) {
	ti := newTestInstance(map[string]func() Actor{
		"Plain": func() Actor { return nopActor{} },
		"Snap":  func() Actor { return &snapActor{} },
		"A":     func() Actor { return &snapActor{} },
		"Boom":  func() Actor { panic("constructor") },
	})
	require.Equal(t, "A\nSnap", string(ti.snapshotterList()))
	none := newTestInstance(map[string]func() Actor{"Plain": func() Actor { return nopActor{} }})
	require.Empty(t, none.snapshotterList())
}

func TestMillis(t *testing.T) {
	require.Equal(t, uint32(0), millis(-time.Second))
	require.Equal(t, uint32(0), millis(0))
	require.Equal(t, uint32(1), millis(time.Nanosecond))
	require.Equal(t, uint32(1500), millis(1500*time.Millisecond))
	require.Equal(t, uint32(1<<31-1), millis(1000*time.Hour))
}

func TestInboxAndFactories(t *testing.T) {
	ti := newTestInstance(map[string]func() Actor{"B": nil, "A": nil, "C.x-1_2": nil})
	require.Equal(t, "A\nB\nC.x-1_2", string(ti.factoryList()))

	b := ti.inboxFor(0)
	require.GreaterOrEqual(t, len(b), minInbox)
	require.Same(t, &b[0], &ti.inboxFor(100)[0], "a big enough inbox is reused")
	big := ti.inboxFor(minInbox + 1)
	require.GreaterOrEqual(t, len(big), minInbox+1)
	require.Nil(t, ti.inboxFor(maxInbox+1))
	require.Len(t, ti.inboxFor(maxInbox), maxInbox)

	// A length beyond the inbox is a host bug the guest reports.
	require.Equal(t, int32(1), ti.deliver(maxInbox+8))
	require.Contains(t, ti.host.failure, "exceeds the inbox")
}

func TestRegisterValidates(t *testing.T) {
	f := func() Actor { return nopActor{} }
	for _, bad := range []string{"", "has space", "ü", strings.Repeat("a", 129)} {
		require.Panics(t, func() { Register(bad, f) }, bad)
	}
	require.Panics(t, func() { Register("NilFactory", nil) })

	name := "TestRegisterValidates-" + fmt.Sprint(time.Now().UnixNano())
	Register(name, f)
	t.Cleanup(func() { delete(registry, name); inst.names = nil })
	require.Panics(t, func() { Register(name, f) }, "duplicate")
	require.Contains(t, strings.Split(string(inst.factoryList()), "\n"), name)
}

func TestStubHost(t *testing.T) {
	// Outside wasip1 the package-level instance has no host to call.
	c := &Context{in: newInstance(stubHost{}, nil), id: 1}
	require.ErrorIs(t, c.SendRaw(PID{}, nil), ErrNotInGuest)
	_, err := c.Whereis("x")
	require.ErrorIs(t, err, ErrNotInGuest)
}

// initCounter counts Inits; plainActor has none.
type initCounter struct{ inits *int }

func (a initCounter) Init(*Context, Message) error { *a.inits++; return nil }
func (initCounter) Receive(*Context, Message)      {}

type plainActor struct{}

func (plainActor) Receive(*Context, Message) {}

// A factory may return values of different types: a START checks its own
// actor for Init, whatever the factory made before.
func TestStartInitsEveryStarterOfAMixedFactory(t *testing.T) {
	inits, made := 0, 0
	ti := newTestInstance(map[string]func() Actor{"Mixed": func() Actor {
		made++
		if made%3 == 0 {
			return initCounter{inits: &inits}
		}
		return plainActor{}
	}})
	var recs []record
	for id := range uint64(30) {
		recs = append(recs, startRec(id+1, "Mixed", nil))
	}
	require.Equal(t, int32(0), ti.run(recs...))
	require.Equal(t, 30, made)
	require.Equal(t, 10, inits, "every third actor has an Init")
	require.Equal(t, 30, ti.actors.len())
}
