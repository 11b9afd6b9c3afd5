//go:build !wasip1

package actor

import (
	"errors"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor/guest-sdk/internal/testproto"
	"github.com/wasmactor/wasmactor/guest-sdk/typed"
)

// calc is a typed actor: it adds, keeps notes, fails on request and
// answers Later in the next turn.
type calc struct {
	notes []string
	later Pending[testproto.Sum]
	sums  []testproto.Sum // answers to its own asks
	errs  []error
}

func (c *calc) Add(_ *Context, a testproto.Add) (testproto.Sum, error) {
	return testproto.Sum{N: a.A + a.B}, nil
}

func (c *calc) Note(ctx *Context, n testproto.Note) {
	c.notes = append(c.notes, n.Text)
	if c.later.Valid() {
		_ = c.later.Reply(ctx, testproto.Sum{N: int64(len(c.notes))})
	}
}

func (c *calc) Fail(_ *Context, f testproto.Fail) (testproto.Sum, error) {
	return testproto.Sum{}, errors.New(f.Why)
}

func (c *calc) Later(ctx *Context, _ testproto.Later) (testproto.Sum, error) {
	c.later = Defer[testproto.Sum](ctx)
	return testproto.Sum{N: -1}, nil // ignored: deferred
}

func newCalcRouter() *Router[*calc] {
	return NewRouter(
		Handle((*calc).Add),
		Handle((*calc).Fail),
		Handle((*calc).Later),
		HandleTell((*calc).Note),
	)
}

func typedInstance(t *testing.T, r *Router[*calc], c *calc) *testInstance {
	t.Helper()
	ti := newTestInstance(map[string]func() Actor{"Calc": func() Actor { return &typedActor{r: r, c: c} }})
	require.Equal(t, int32(0), ti.run(startRec(1, "Calc", nil)))
	return ti
}

type typedActor struct {
	r *Router[*calc]
	c *calc
}

func (a *typedActor) Receive(ctx *Context, msg Message) { a.r.Receive(a.c, ctx, msg) }

// replyOf decodes the one reply the host saw as a T.
func replyOf[T typed.Message, P typed.Ptr[T]](t *testing.T, ti *testInstance) (T, error) {
	t.Helper()
	r := ti.host.only(t, "reply")
	ti.host.calls = nil
	return typed.Decode[T, P](r.data)
}

func TestRouterAnswersByType(t *testing.T) {
	c := &calc{}
	ti := typedInstance(t, newCalcRouter(), c)

	require.Equal(t, int32(0), ti.run(askRec(1, parent, 7, typed.Marshal(testproto.Add{A: 2, B: 3}))))
	sum, err := replyOf[testproto.Sum](t, ti)
	require.NoError(t, err)
	require.Equal(t, testproto.Sum{N: 5}, sum)

	// A tell of an ask type runs the handler; the answer is dropped.
	require.Equal(t, int32(0), ti.run(tellRec(1, parent, typed.Marshal(testproto.Add{A: 1}))))
	require.Empty(t, ti.host.calls)

	require.Equal(t, int32(0), ti.run(tellRec(1, parent, typed.Marshal(testproto.Note{Text: "hi"}))))
	require.Equal(t, []string{"hi"}, c.notes)

	// An error from the handler is the asker's error.
	require.Equal(t, int32(0), ti.run(askRec(1, parent, 8, typed.Marshal(testproto.Fail{Why: "no funds"}))))
	_, err = replyOf[testproto.Sum](t, ti)
	var te *typed.Error
	require.ErrorAs(t, err, &te)
	require.Equal(t, "no funds", te.Message)
	require.Equal(t, typed.CodeFailed, te.Code)

	// The untyped API writes the same tagged form through fxamacker/cbor.
	viaLib, err := cbor.Marshal(testproto.Add{A: 40, B: 2})
	require.NoError(t, err)
	require.Equal(t, int32(0), ti.run(askRec(1, parent, 9, viaLib)))
	sum, err = replyOf[testproto.Sum](t, ti)
	require.NoError(t, err)
	require.Equal(t, int64(42), sum.N)
}

func TestRouterRefusesWhatItCannotTake(t *testing.T) {
	c := &calc{}
	ti := typedInstance(t, newCalcRouter(), c)
	for _, tc := range []struct {
		payload []byte
		is      error
		text    string
	}{
		{typed.Marshal(testproto.Sum{N: 1}), typed.ErrUnknownType, "wasmactor: unknown message type " + typed.Hex(testproto.Sum{}.MessageType()) + ": Calc handles Add, Fail, Later, Note"},
		{[]byte{0xa0}, typed.ErrUnknownType, "an untyped message; Calc handles Add, Fail, Later, Note"},
		{append(typed.AppendTag(nil, testproto.Add{}.MessageType()), 0x83, 1, 2, 3), typed.ErrMalformed, "Add: want a map"},
		{append(typed.Marshal(testproto.Add{}), 0), typed.ErrMalformed, "bytes after the message"},
		{typed.Marshal(testproto.Note{Text: "x"}), typed.ErrNotAsk, "Note is a one-way message"},
	} {
		require.Equal(t, int32(0), ti.run(askRec(1, parent, 3, tc.payload)))
		_, err := replyOf[testproto.Sum](t, ti)
		require.ErrorIs(t, err, tc.is, "%x", tc.payload)
		require.ErrorContains(t, err, tc.text)
	}
	require.Empty(t, c.notes, "a refused Note never reached the handler")

	// A tell that cannot be taken is logged, not silently dropped.
	require.Equal(t, int32(0), ti.run(tellRec(1, parent, typed.Marshal(testproto.Sum{}))))
	log := ti.host.only(t, "log")
	require.Contains(t, log.text, "unknown message type")
}

func TestRouterUntypedFallback(t *testing.T) {
	var got []byte
	r := newCalcRouter().Untyped(func(_ *calc, ctx *Context, msg Message) {
		got = append(got, msg.Bytes()...)
		_ = ctx.Reply("untyped ok")
	})
	ti := typedInstance(t, r, &calc{})
	require.Equal(t, int32(0), ti.run(askRec(1, parent, 3, []byte{0x61, 'x'})))
	require.Equal(t, []byte{0x61, 'x'}, got)
	var s string
	require.NoError(t, cbor.Unmarshal(ti.host.only(t, "reply").data, &s))
	require.Equal(t, "untyped ok", s)
}

func TestDeferredTypedReply(t *testing.T) {
	c := &calc{}
	ti := typedInstance(t, newCalcRouter(), c)
	require.Equal(t, int32(0), ti.run(askRec(1, parent, 5, typed.Marshal(testproto.Later{}))))
	require.Empty(t, ti.host.calls, "deferred: no answer yet, and the handler's return value is not sent")
	require.Equal(t, int32(0), ti.run(tellRec(1, parent, typed.Marshal(testproto.Note{Text: "a"}))))
	r := ti.host.only(t, "reply")
	require.Equal(t, uint64(5), r.ref)
	sum, err := typed.Decode[testproto.Sum](r.data)
	require.NoError(t, err)
	require.Equal(t, int64(1), sum.N)
}

func TestNewRouterRefusesDuplicates(t *testing.T) {
	require.PanicsWithValue(t, "wasmactor: NewRouter: Add and Add have the same type tag "+typed.Hex(testproto.Add{}.MessageType()), func() {
		NewRouter(Handle((*calc).Add), Handle((*calc).Add))
	})
	require.Panics(t, func() { NewRouter(Route[*calc]{}) })
	require.Equal(t, []string{"Add", "Fail", "Later", "Note"}, newCalcRouter().Handles())
}

// asker asks a calc and keeps the typed answers.
type asker struct{ c *calc }

func (a *asker) Receive(ctx *Context, msg Message) {
	target := PID{Incarnation: 0xabc, Serial: 2}
	var err error
	if msg.Len() == 0 {
		err = Ask(ctx, target, testproto.Add{A: 1, B: 2}, time.Second, a.answered)
	} else {
		err = Ask(ctx, target, testproto.Fail{Why: "asked to"}, 0, a.answered)
	}
	if err != nil {
		a.c.errs = append(a.c.errs, err)
	}
	_ = Send(ctx, target, testproto.Note{Text: "sent"})
}

func (a *asker) answered(_ *Context, s testproto.Sum, err error) {
	a.c.sums = append(a.c.sums, s)
	a.c.errs = append(a.c.errs, err)
}

func TestTypedAskAndSend(t *testing.T) {
	c := &calc{}
	ti := newTestInstance(map[string]func() Actor{"A": func() Actor { return &asker{c: c} }})
	require.Equal(t, int32(0), ti.run(startRec(1, "A", nil), tellRec(1, parent, nil), tellRec(1, parent, []byte{1})))
	var asks []call
	for _, cl := range ti.host.calls {
		switch cl.op {
		case "ask":
			asks = append(asks, cl)
		case "send":
			n, err := typed.Decode[testproto.Note](cl.data)
			require.NoError(t, err)
			require.Equal(t, "sent", n.Text)
		}
	}
	require.Len(t, asks, 2)
	require.ErrorIs(t, Ask[testproto.Add](&Context{in: ti.instance}, parent, testproto.Add{}, 0, nil), ErrBadArgument)
	add, err := typed.Decode[testproto.Add](asks[0].data)
	require.NoError(t, err)
	require.Equal(t, testproto.Add{A: 1, B: 2}, add)
	require.Equal(t, uint32(1000), asks[0].ms)

	require.Equal(t, int32(0), ti.run(
		replyRec(1, asks[0].ref, 0, typed.Marshal(testproto.Sum{N: 3})),
		replyRec(1, asks[1].ref, 0, typed.Marshal(typed.Error{Message: "asked to"})),
	))
	require.Equal(t, []testproto.Sum{{N: 3}, {}}, c.sums)
	require.NoError(t, c.errs[0])
	require.EqualError(t, c.errs[1], "asked to")

	// A reply of another type, and a failed ask.
	c.sums, c.errs = nil, nil
	ti.host.calls = nil
	require.Equal(t, int32(0), ti.run(tellRec(1, parent, nil)))
	ref := ti.host.only(t, "ask").ref
	require.Equal(t, int32(0), ti.run(replyRec(1, ref, 0, typed.Marshal(testproto.Note{}))))
	require.ErrorIs(t, c.errs[0], typed.ErrUnexpectedReply)
	ti.host.calls = nil
	require.Equal(t, int32(0), ti.run(tellRec(1, parent, nil)))
	ref = ti.host.only(t, "ask").ref
	require.Equal(t, int32(0), ti.run(replyRec(1, ref, codeTimeout, nil)))
	require.ErrorIs(t, c.errs[1], ErrTimeout)
}

// TestTypedDispatchAllocatesNothing: routing, decoding and answering a
// typed ask costs no allocation in the steady state.
func TestTypedDispatchAllocatesNothing(t *testing.T) {
	ti := typedInstance(t, newCalcRouter(), &calc{})
	ti.host.record = false
	var b []byte
	for i := range 64 {
		b = appendRecord(b, askRec(1, parent, uint64(i+1), typed.Marshal(testproto.Add{A: int64(i), B: 1})))
	}
	copy(ti.inboxFor(uint32(len(b))), b)
	require.Equal(t, int32(0), ti.deliver(uint32(len(b))))
	require.Zero(t, testing.AllocsPerRun(20, func() {
		if ti.deliver(uint32(len(b))) != 0 {
			t.Fatal(ti.host.failure)
		}
	}))
}
