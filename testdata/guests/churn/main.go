// Command churn is the guest of the host's resource and deadlock tests:
// actors that create every kind of per-actor record the host keeps (spawns,
// monitors, links, names, pending asks, timers) and die in every way, in
// loops.
//
// # Factories
//
//	Child   init args (all optional):
//	          {"name": s}      registers s
//	          {"asks": n, "mute": pid}
//	                           makes n asks to pid with a one-hour timeout
//	                           (a Mute never answers: they stay pending)
//	          {"timers": n, "size": b}
//	                           arms n SendAfters of b bytes to itself, due
//	                           in an hour
//	          {"watch": pid}   monitors pid
//	          {"link": pid}    links to pid
//	          {"trap": true}   traps exits
//	        ask   anything → "ok"
//	        tell  "stop" stops normally; "crash" panics (the instance
//	              fails); anything else is ignored
//	Mute    never answers; counts what it gets
//	Driver  init args {"id": i, "rounds": n, "drivers": d}: runs n rounds,
//	        one per turn, then kills what it still holds and stops with
//	        "normal". A round spawns a Child (linked every 3rd round,
//	        isolated every 16th), which registers a name, asks the driver's
//	        Mute, arms a timer and monitors the driver; the driver monitors
//	        the child, asks it, registers itself under a rotating name,
//	        monitors and links the next driver found by name (and undoes
//	        some of it), sends the child a delayed "stop", and finally kills
//	        it with "normal", "killed" or "boom", or makes it crash (isolated
//	        children only). Drivers trap exits, so a linked child's abnormal
//	        death does not take them down.
//	        ask {"op": "stats"} → {"rounds": r, "spawned": s, "failed": f,
//	        "downs": d, "exits": e, "replies": p}
//
// # Build
//
// testdata is invisible to `go build ./...`; tests use
// guestbuild.Build(t, "testdata/guests/churn"). By hand:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o churn.wasm ./testdata/guests/churn
package main

import (
	"strconv"
	"time"

	"github.com/wasmactor/wasmactor/guest-sdk/actor"
)

const forever = time.Hour

type childArgs struct {
	Name   string    `cbor:"name,omitempty"`
	Asks   int       `cbor:"asks,omitempty"`
	Mute   actor.PID `cbor:"mute,omitempty"`
	Timers int       `cbor:"timers,omitempty"`
	Size   int       `cbor:"size,omitempty"`
	Watch  actor.PID `cbor:"watch,omitempty"`
	Link   actor.PID `cbor:"link,omitempty"`
	Trap   bool      `cbor:"trap,omitempty"`
}

// Child holds records until it is told to go.
type Child struct{}

func (Child) Init(ctx *actor.Context, args actor.Message) error {
	if args.Len() == 0 {
		return nil
	}
	a, err := actor.Decode[childArgs](args)
	if err != nil {
		return err
	}
	if a.Trap {
		ctx.TrapExit(true)
	}
	if a.Name != "" {
		_ = ctx.Register(a.Name) // taken is fine: names race on purpose
	}
	for range a.Asks {
		_ = ctx.AskRaw(a.Mute, []byte{0xf6}, forever, func(*actor.Context, actor.Message, error) {})
	}
	for range a.Timers {
		_, _ = ctx.SendAfterRaw(ctx.Self(), forever, make([]byte, a.Size))
	}
	if !a.Watch.IsZero() {
		_, _ = ctx.Monitor(a.Watch)
	}
	if !a.Link.IsZero() {
		_ = ctx.Link(a.Link)
	}
	return nil
}

func (Child) Receive(ctx *actor.Context, msg actor.Message) {
	if msg.IsAsk() {
		_ = ctx.Reply("ok")
		return
	}
	s, err := actor.Decode[string](msg)
	if err != nil {
		return
	}
	switch s {
	case "stop":
		ctx.Stop("normal")
	case "crash":
		panic("churn child crashed on request")
	}
}

// Mute never answers.
type Mute struct{ got int }

func (m *Mute) Receive(*actor.Context, actor.Message) { m.got++ }

type driverArgs struct {
	ID      int `cbor:"id"`
	Rounds  int `cbor:"rounds"`
	Drivers int `cbor:"drivers"`
}

type driverStats struct {
	Rounds  int `cbor:"rounds"`
	Spawned int `cbor:"spawned"`
	Failed  int `cbor:"failed"`
	Downs   int `cbor:"downs"`
	Exits   int `cbor:"exits"`
	Replies int `cbor:"replies"`
}

// Driver churns.
type Driver struct {
	args  driverArgs
	st    driverStats
	mute  actor.PID
	name  string
	links []actor.PID // drivers linked to, unlinked a round later
}

var step = []byte{0x64, 's', 't', 'e', 'p'} // CBOR "step"

func (d *Driver) Init(ctx *actor.Context, args actor.Message) error {
	a, err := actor.Decode[driverArgs](args)
	if err != nil {
		return err
	}
	d.args = a
	ctx.TrapExit(true)
	if d.mute, err = ctx.Spawn("Mute", nil); err != nil {
		return err
	}
	return ctx.SendRaw(ctx.Self(), step)
}

func (d *Driver) Receive(ctx *actor.Context, msg actor.Message) {
	if msg.IsAsk() {
		_ = ctx.Reply(d.st)
		return
	}
	if d.st.Rounds == d.args.Rounds {
		return
	}
	d.round(ctx)
	d.st.Rounds++
	if d.st.Rounds == d.args.Rounds {
		_ = ctx.Kill(d.mute, "normal")
		ctx.Stop("normal")
		return
	}
	if err := ctx.SendRaw(ctx.Self(), step); err != nil {
		ctx.Stop("cannot continue: " + err.Error())
	}
}

func (d *Driver) round(ctx *actor.Context) {
	r := d.st.Rounds
	var opts []actor.SpawnOption
	if r%3 == 0 {
		opts = append(opts, actor.SpawnLink)
	}
	isolated := r%16 == 0
	if isolated {
		opts = append(opts, actor.SpawnIsolated)
	}
	child, err := ctx.Spawn("Child", childArgs{
		Name:   "c" + strconv.Itoa(d.args.ID) + "-" + strconv.Itoa(r%4),
		Asks:   1,
		Mute:   d.mute,
		Timers: 1,
		Size:   16,
		Watch:  ctx.Self(),
	}, opts...)
	if err != nil {
		d.st.Failed++
		return
	}
	d.st.Spawned++
	mref, _ := ctx.Monitor(child)
	_ = ctx.AskRaw(child, []byte{0xf6}, 5*time.Second, func(_ *actor.Context, _ actor.Message, err error) {
		if err == nil {
			d.st.Replies++
		}
	})

	// A rotating name, and the next driver's, monitored and linked.
	if d.name != "" {
		ctx.Unregister(d.name)
	}
	d.name = "d" + strconv.Itoa(d.args.ID) + "-" + strconv.Itoa(r%2)
	_ = ctx.Register(d.name)
	for _, p := range d.links {
		ctx.Unlink(p)
	}
	d.links = d.links[:0]
	next := (d.args.ID + 1) % max(d.args.Drivers, 1)
	if peer, err := ctx.Whereis("d" + strconv.Itoa(next) + "-" + strconv.Itoa((r+1)%2)); err == nil {
		ref, _ := ctx.Monitor(peer)
		if r%2 == 0 {
			ctx.Demonitor(ref)
		}
		if ctx.Link(peer) == nil {
			d.links = append(d.links, peer)
		}
	}
	_, _ = ctx.SendAfterRaw(ctx.Self(), forever, step)
	_, _ = ctx.SendAfter(child, time.Millisecond, "stop")

	switch {
	case isolated && r%32 == 0:
		_ = ctx.Send(child, "crash")
	case r%4 == 0:
		_ = ctx.Kill(child, "normal")
	case r%4 == 1:
		_ = ctx.Kill(child, "killed")
	case r%4 == 2:
		_ = ctx.Kill(child, "boom")
	default:
		ctx.Demonitor(mref)
		_ = ctx.Kill(child, "")
	}
}

func (d *Driver) HandleDown(*actor.Context, actor.Down) { d.st.Downs++ }

func (d *Driver) HandleExit(*actor.Context, actor.Exit) { d.st.Exits++ }

func init() {
	actor.Register("Child", func() actor.Actor { return Child{} })
	actor.Register("Mute", func() actor.Actor { return &Mute{} })
	actor.Register("Driver", func() actor.Actor { return &Driver{} })
}

// main never runs: the host loads the module as a WASI reactor.
func main() {}
