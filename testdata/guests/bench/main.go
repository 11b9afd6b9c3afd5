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
//	Echo      answers every ask with its payload, byte for byte (raw reply)
//	Spawner   ask {"n": N}: spawns N Echo actors, then answers
//	          {"spawned": s, "failed": f}
//	SeqCheck  tells [sender id, seq]: checks that each sender's seqs go
//	          1, 2, 3...; any ask → {"received": n, "gaps": g, "dups": d,
//	          "reorders": r}
//	SeqSend   tell [target PID, sender id, count]: sends count messages
//	          [sender id, seq] to target, seq continuing from the last tell
//	          for that sender id; any ask → {"sent": s, "failed": f}
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
	last                           map[uint64]uint64
	received, gaps, dups, reorders uint64
}

func (s *SeqCheck) Receive(ctx *actor.Context, msg actor.Message) {
	if msg.IsAsk() {
		_ = ctx.Reply(map[string]uint64{"received": s.received, "gaps": s.gaps, "dups": s.dups, "reorders": s.reorders})
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
		_ = ctx.Reply(map[string]uint64{"sent": s.sent, "failed": s.failed})
		return
	}
	b := msg.Bytes()
	k, b, err := actor.ReadArrayHeader(b)
	if err != nil || k != 3 {
		ctx.Log(actor.LevelWarn, "SeqSend wants [target, sender, count]")
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
	count, _, err := actor.ReadUint(b)
	if err != nil {
		return
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

func init() {
	actor.Register("Sink", func() actor.Actor { return &Sink{} })
	actor.Register("Source", func() actor.Actor { return &Source{} })
	actor.Register("Echo", func() actor.Actor { return Echo{} })
	actor.Register("Spawner", func() actor.Actor { return Spawner{} })
	actor.Register("SeqCheck", func() actor.Actor { return &SeqCheck{} })
	actor.Register("SeqSend", func() actor.Actor { return &SeqSend{} })
}

// main never runs: the host loads the module as a WASI reactor.
func main() {}
