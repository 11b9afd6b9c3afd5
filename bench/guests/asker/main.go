// Command asker is the guest that measures guest→guest ask latency: an Asker
// asks a target (the bench guest's Echo, on another node) one request at a
// time and times each round trip inside the guest.
//
// # Messages
//
//	ask [target PID, rounds, payload size]
//	    runs rounds sequential asks of a payload-size CBOR byte string to
//	    target, then answers [rounds, errors, p50 ns, p99 ns, mean ns].
//
// A PID inside CBOR is [incarnation, serial].
//
// # Build
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o asker.wasm ./guests/asker
package main

import (
	"slices"
	"time"

	"github.com/wasmactor/wasmactor/guest-sdk/actor"
)

const askTimeout = 2 * time.Second

// Asker runs one measured run at a time.
type Asker struct {
	target  actor.PID
	payload []byte
	rounds  uint64
	errors  uint64
	lat     []uint64 // ns per round trip
	t0      time.Time
	waiter  actor.Request
	buf     []byte
}

func (a *Asker) Receive(ctx *actor.Context, msg actor.Message) {
	if !msg.IsAsk() {
		return
	}
	b := msg.Bytes()
	k, b, err := actor.ReadArrayHeader(b)
	if err != nil || k != 3 {
		_ = ctx.Reply(map[string]string{"error": "Asker wants [target, rounds, size]"})
		return
	}
	target, b, err := actor.ReadPID(b)
	if err != nil {
		return
	}
	rounds, b, err := actor.ReadUint(b)
	if err != nil {
		return
	}
	size, _, err := actor.ReadUint(b)
	if err != nil {
		return
	}
	// The payload is a CBOR byte string whose whole encoding is size bytes
	// (a 2-byte head for the sizes used here).
	a.payload = actor.AppendBytes(a.payload[:0], make([]byte, max(size, 2)-2))
	a.target, a.rounds, a.errors = target, max(rounds, 1), 0
	a.lat = slices.Grow(a.lat[:0], int(a.rounds))
	a.waiter, _ = ctx.Request()
	a.next(ctx)
}

// next sends the next ask, or answers the run once every round is done.
func (a *Asker) next(ctx *actor.Context) {
	for uint64(len(a.lat))+a.errors < a.rounds {
		a.t0 = time.Now()
		if err := ctx.AskRaw(a.target, a.payload, askTimeout, a.answered); err == nil {
			return
		}
		a.errors++ // refused at once: count it and go on without recursing
	}
	a.finish(ctx)
}

func (a *Asker) answered(ctx *actor.Context, _ actor.Message, err error) {
	if err != nil {
		a.errors++
	} else {
		a.lat = append(a.lat, uint64(time.Since(a.t0).Nanoseconds()))
	}
	a.next(ctx)
}

func (a *Asker) finish(ctx *actor.Context) {
	var p50, p99, mean uint64
	if n := len(a.lat); n > 0 {
		var sum uint64
		for _, v := range a.lat {
			sum += v
		}
		mean = sum / uint64(n)
		slices.Sort(a.lat)
		p50 = a.lat[min(n-1, n/2)]
		p99 = a.lat[min(n-1, n*99/100)]
	}
	a.buf = actor.AppendArrayHeader(a.buf[:0], 5)
	for _, v := range []uint64{uint64(len(a.lat)), a.errors, p50, p99, mean} {
		a.buf = actor.AppendUint(a.buf, v)
	}
	_ = ctx.ReplyRawTo(a.waiter, a.buf)
}

func init() {
	actor.Register("Asker", func() actor.Actor { return &Asker{} })
}

// main never runs: the host loads the module as a WASI reactor.
func main() {}
