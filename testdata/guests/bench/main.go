// Command bench is the guest the benchmarks and host tests use. Its hot
// paths parse and build messages by hand (actor.ReadUint, actor.AppendUint,
// raw sends) so that what they measure is the platform, not CBOR reflection.
//
// # Factories
//
//	Sink      counts tells; any ask (e.g. {"op":"count"}) → {"count": n}
//	Source    tell [target PID, n]: sends n small raw messages to target as
//	          fast as it can, never retrying: a refused send (mailbox full,
//	          ...) is counted as failed. Any ask → {"sent": s, "failed": f}
//	Poster    as Source, but posts (actor.Context.PostRaw: batched sends);
//	          failed is what the host refused (Context.Refused)
//	Echo      answers every ask with its payload, byte for byte (raw reply)
//	Spawner   ask {"n": N}: spawns N Echo actors, then answers
//	          {"spawned": s, "failed": f}
//	SeqCheck  tells [sender id, seq]: checks that each sender's seqs go
//	          1, 2, 3...; any ask → {"received": n, "gaps": g, "dups": d,
//	          "reorders": r, "restores": k}. It has snapshots, so tests
//	          upgrade and migrate it under load and check the order held.
//	Blob      spawn args n (a CBOR unsigned): holds n bytes of state; any ask
//	          → [len, sum of the bytes, restores]; tells are ignored. Its
//	          snapshot is its bytes as they are, so upgrade and migration
//	          benchmarks measure the platform, not a codec.
//	SeqSend   tell [target PID, sender id, count]: sends count messages
//	          [sender id, seq] to target, seq continuing from the last tell
//	          for that sender id; any ask → {"sent": s, "failed": f}. With
//	          a fourth element 1 it posts them (batched sends) instead.
//
// SeqCheck's counts, per message with sender id s and seq q, where last is
// the highest seq seen from s (0 at first):
//
//	q == last+1   in order
//	q >  last+1   gaps += q-last-1 (messages skipped), last = q
//	q == last     dups++
//	q <  last     reorders++ (an earlier message arrived late, or a repeat)
//
// A run with no loss, duplication or reordering ends with gaps, dups and
// reorders all 0 and received equal to what SeqSend reports as sent.
//
// # Build
//
// testdata is invisible to `go build ./...`; build by path:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o bench.wasm ./testdata/guests/bench
//
// Tests use guestbuildtest.Build(t, "testdata/guests/bench").
package main

import (
	"github.com/fxamacker/cbor/v2"

	"github.com/wasmactor/wasmactor/guest-sdk/actor"
)

// payload is what Source sends: small, fixed, never re-encoded.
var payload = []byte("wasmactor-bench-payload-0123456789")

// Sink counts tells.
type Sink struct{ count uint64 }

func (s *Sink) Receive(ctx *actor.Context, msg actor.Message) {
	if msg.IsAsk() {
		_ = ctx.Reply(map[string]uint64{"count": s.count})
		return
	}
	s.count++
}

// Source floods a target.
type Source struct{ sent, failed uint64 }

func (s *Source) Receive(ctx *actor.Context, msg actor.Message) {
	if msg.IsAsk() {
		_ = ctx.Reply(map[string]uint64{"sent": s.sent, "failed": s.failed})
		return
	}
	target, n, ok := readTargetN(msg.Bytes())
	if !ok {
		ctx.Log(actor.LevelWarn, "Source wants [target, n]")
		return
	}
	for range n {
		if err := ctx.SendRaw(target, payload); err != nil {
			s.failed++
			continue
		}
		s.sent++
	}
}

// Poster floods a target with posted (batched) messages.
type Poster struct{ sent uint64 }

func (s *Poster) Receive(ctx *actor.Context, msg actor.Message) {
	if msg.IsAsk() {
		_ = ctx.Reply(map[string]uint64{"sent": s.sent - ctx.Refused(), "failed": ctx.Refused()})
		return
	}
	target, n, ok := readTargetN(msg.Bytes())
	if !ok {
		ctx.Log(actor.LevelWarn, "Poster wants [target, n]")
		return
	}
	for range n {
		ctx.PostRaw(target, payload)
	}
	s.sent += n
}

// readTargetN parses [[node, serial], n].
func readTargetN(b []byte) (actor.PID, uint64, bool) {
	k, b, err := actor.ReadArrayHeader(b)
	if err != nil || k != 2 {
		return actor.PID{}, 0, false
	}
	pid, b, err := actor.ReadPID(b)
	if err != nil {
		return actor.PID{}, 0, false
	}
	n, _, err := actor.ReadUint(b)
	return pid, n, err == nil
}

// Echo answers asks with their payload.
type Echo struct{}

func (Echo) Receive(ctx *actor.Context, msg actor.Message) {
	if msg.IsAsk() {
		_ = ctx.ReplyRaw(msg.Bytes())
	}
}

// Spawner spawns Echo actors on request.
type Spawner struct{}

func (Spawner) Receive(ctx *actor.Context, msg actor.Message) {
	var req struct {
		N uint64 `cbor:"n"`
	}
	if err := msg.Decode(&req); err != nil {
		_ = ctx.Reply(map[string]string{"error": err.Error()})
		return
	}
	var spawned, failed uint64
	for range req.N {
		if _, err := ctx.SpawnRaw("Echo", nil); err != nil {
			failed++
			continue
		}
		spawned++
	}
	_ = ctx.Reply(map[string]uint64{"spawned": spawned, "failed": failed})
}

// SeqCheck verifies per-sender order.
type SeqCheck struct {
	last                                     map[uint64]uint64
	received, gaps, dups, reorders, restores uint64
}

// seqState is SeqCheck's snapshot.
type seqState struct {
	Last                                     map[uint64]uint64
	Received, Gaps, Dups, Reorders, Restores uint64
}

func (s *SeqCheck) Snapshot() ([]byte, error) {
	return cbor.Marshal(seqState{s.last, s.received, s.gaps, s.dups, s.reorders, s.restores})
}

func (s *SeqCheck) Restore(b []byte) error {
	var st seqState
	if err := cbor.Unmarshal(b, &st); err != nil {
		return err
	}
	s.last, s.received, s.gaps, s.dups, s.reorders, s.restores = st.Last, st.Received, st.Gaps, st.Dups, st.Reorders, st.Restores+1
	return nil
}

func (s *SeqCheck) Receive(ctx *actor.Context, msg actor.Message) {
	if msg.IsAsk() {
		_ = ctx.Reply(map[string]uint64{"received": s.received, "gaps": s.gaps, "dups": s.dups, "reorders": s.reorders, "restores": s.restores})
		return
	}
	b := msg.Bytes()
	k, b, err := actor.ReadArrayHeader(b)
	if err != nil || k != 2 {
		ctx.Log(actor.LevelWarn, "SeqCheck wants [sender, seq]")
		return
	}
	sender, b, err := actor.ReadUint(b)
	if err != nil {
		return
	}
	seq, _, err := actor.ReadUint(b)
	if err != nil {
		return
	}
	if s.last == nil {
		s.last = make(map[uint64]uint64)
	}
	s.received++
	last := s.last[sender]
	switch {
	case seq == last+1:
		s.last[sender] = seq
	case seq > last+1:
		s.gaps += seq - last - 1
		s.last[sender] = seq
	case seq == last:
		s.dups++
	default:
		s.reorders++
	}
}

// SeqSend sends numbered messages.
type SeqSend struct {
	next         map[uint64]uint64 // sender id → last seq sent
	sent, failed uint64
	buf          []byte
}

func (s *SeqSend) Receive(ctx *actor.Context, msg actor.Message) {
	if msg.IsAsk() {
		// Posted messages the host refused count as failed, not sent.
		r := ctx.Refused()
		_ = ctx.Reply(map[string]uint64{"sent": s.sent - r, "failed": s.failed + r})
		return
	}
	b := msg.Bytes()
	k, b, err := actor.ReadArrayHeader(b)
	if err != nil || k != 3 && k != 4 {
		ctx.Log(actor.LevelWarn, "SeqSend wants [target, sender, count] or [target, sender, count, post]")
		return
	}
	target, b, err := actor.ReadPID(b)
	if err != nil {
		return
	}
	sender, b, err := actor.ReadUint(b)
	if err != nil {
		return
	}
	count, b, err := actor.ReadUint(b)
	if err != nil {
		return
	}
	var post uint64
	if k == 4 {
		if post, _, err = actor.ReadUint(b); err != nil {
			return
		}
	}
	if s.next == nil {
		s.next = make(map[uint64]uint64)
	}
	seq := s.next[sender]
	for range count {
		seq++
		s.buf = actor.AppendArrayHeader(s.buf[:0], 2)
		s.buf = actor.AppendUint(s.buf, sender)
		s.buf = actor.AppendUint(s.buf, seq)
		if post != 0 {
			// Refusals are counted by the SDK (failed, below).
			ctx.PostRaw(target, s.buf)
			s.sent++
			continue
		}
		// A refused message keeps its seq: the checker sees the hole as a
		// gap, which is the truth.
		if err := ctx.SendRaw(target, s.buf); err != nil {
			s.failed++
			continue
		}
		s.sent++
	}
	s.next[sender] = seq
}

// Blob holds opaque state.
type Blob struct {
	state    []byte
	restores uint64
}

func (b *Blob) Init(ctx *actor.Context, args actor.Message) error {
	n, _, err := actor.ReadUint(args.Bytes())
	if err != nil {
		return nil // no args: no state
	}
	b.state = make([]byte, n)
	for i := range b.state {
		b.state[i] = byte(i)
	}
	return nil
}

func (b *Blob) Receive(ctx *actor.Context, msg actor.Message) {
	if !msg.IsAsk() {
		return
	}
	var sum uint64
	for _, c := range b.state {
		sum += uint64(c)
	}
	out := actor.AppendArrayHeader(nil, 3)
	out = actor.AppendUint(out, uint64(len(b.state)))
	out = actor.AppendUint(out, sum)
	out = actor.AppendUint(out, b.restores)
	_ = ctx.ReplyRaw(out)
}

func (b *Blob) Snapshot() ([]byte, error) { return b.state, nil }

func (b *Blob) Restore(state []byte) error {
	b.state = append([]byte(nil), state...)
	b.restores++
	return nil
}

func init() {
	actor.Register("Blob", func() actor.Actor { return &Blob{} })
	actor.Register("Sink", func() actor.Actor { return &Sink{} })
	actor.Register("Source", func() actor.Actor { return &Source{} })
	actor.Register("Poster", func() actor.Actor { return &Poster{} })
	actor.Register("Echo", func() actor.Actor { return Echo{} })
	actor.Register("Spawner", func() actor.Actor { return Spawner{} })
	actor.Register("SeqCheck", func() actor.Actor { return &SeqCheck{} })
	actor.Register("SeqSend", func() actor.Actor { return &SeqSend{} })
}

// main never runs: the host loads the module as a WASI reactor.
func main() {}
