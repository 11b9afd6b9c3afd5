//go:build !wasip1

package actor

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The example guests and the bench guest, each built for wasip1 and run
// under the routing mini host: they are the SDK's users, so they are tested
// here, against the SDK they are built with.

type anyMap = map[string]any

func TestExampleCounter(t *testing.T) {
	env := newWasmEnv(t, "examples/counter")
	env.host.route = true
	g := env.newGuest()

	c := g.spawn("Counter", mustCBOR(t, anyMap{"start": 10}))
	require.Equal(t, int32(0), g.tell(c, mustCBOR(t, anyMap{"op": "inc", "by": 5})))
	require.Equal(t, anyMap{"value": uint64(15)}, fromCBOR[anyMap](t, g.ask(c, mustCBOR(t, anyMap{"op": "get"}))))
	require.Equal(t, anyMap{"value": uint64(16)}, fromCBOR[anyMap](t, g.ask(c, mustCBOR(t, anyMap{"op": "inc"}))), "by defaults to 1")
	require.Equal(t, anyMap{"value": int64(-4)}, fromCBOR[anyMap](t, g.ask(c, mustCBOR(t, anyMap{"op": "dec", "by": 20}))))
	bad := fromCBOR[anyMap](t, g.ask(c, mustCBOR(t, anyMap{"op": "explode"})))
	require.Equal(t, "unknown op explode", bad["error"])
	require.Contains(t, fromCBOR[anyMap](t, g.ask(c, []byte{0xff}))["error"], "not a counter request")

	// A bad tell is logged, not silently dropped.
	env.host.take()
	require.Equal(t, int32(0), g.tell(c, mustCBOR(t, anyMap{"op": "nope"})))
	calls := env.host.take()
	require.Len(t, calls, 1)
	require.Equal(t, "log", calls[0].op)
	require.Contains(t, calls[0].text, "unknown op nope")

	// Snapshot and restore into another instance.
	g2 := env.newGuest()
	state := g.slice(g.call("wasmactor_snapshot", c.Serial))
	env.host.alive[c.Serial] = true
	require.Equal(t, int32(0), g2.deliver(record{kind: kindRestore, actor: c.Serial, payload: startPayload("Counter", state)}))
	require.Equal(t, anyMap{"value": int64(-4)}, fromCBOR[anyMap](t, g2.ask(c, mustCBOR(t, anyMap{"op": "get"}))))

	// Bad init args stop the actor with the decoder's reason.
	env.host.take()
	env.host.serial++
	env.host.alive[env.host.serial] = true
	require.Equal(t, int32(0), g.deliver(startRec(env.host.serial, "Counter", mustCBOR(t, anyMap{"start": "ten"}))))
	stop := env.host.take()
	require.Len(t, stop, 1)
	require.Equal(t, "stop", stop[0].op)
	require.Contains(t, stop[0].text, "cbor")
}

func TestExamplePingPong(t *testing.T) {
	env := newWasmEnv(t, "examples/pingpong")
	env.host.route = true
	g := env.newGuest()

	ping := g.spawn("Ping", nil)
	got := fromCBOR[anyMap](t, g.ask(ping, mustCBOR(t, anyMap{"op": "run", "rounds": 50})))
	require.Equal(t, uint64(50), got["rounds"])
	require.Equal(t, uint64(50), got["sent"])
	require.Equal(t, uint64(50), got["replies"])
	require.Equal(t, uint64(0), got["errors"])
	require.Equal(t, true, got["done"])

	// Ping spawned a linked Pong; it answered every ping.
	var pong PID
	for _, c := range env.host.take() {
		if c.op == "spawn" {
			require.Equal(t, "Pong", c.text)
			require.Equal(t, uint32(SpawnLink), c.flags)
			pong = PID{Incarnation: miniNode, Serial: env.host.serial}
		}
	}
	require.False(t, pong.IsZero())
	require.Equal(t, anyMap{"pongs": uint64(50)}, fromCBOR[anyMap](t, g.ask(pong, mustCBOR(t, anyMap{"op": "stats"}))))

	// A Ping given a Pong in its init args uses it; a dead Pong shows up as
	// an error, not a hang.
	ping2 := g.spawn("Ping", mustCBOR(t, anyMap{"pong": pong}))
	got = fromCBOR[anyMap](t, g.ask(ping2, mustCBOR(t, anyMap{"op": "run", "rounds": 3})))
	require.Equal(t, uint64(3), got["replies"])
	delete(env.host.alive, pong.Serial)
	got = fromCBOR[anyMap](t, g.ask(ping2, mustCBOR(t, anyMap{"op": "run", "rounds": 3})))
	require.Equal(t, uint64(1), got["errors"])
	require.Equal(t, uint64(0), got["replies"])
	require.Equal(t, true, got["done"])
}

func TestExampleCrasher(t *testing.T) {
	env := newWasmEnv(t, "examples/crasher")
	env.host.route = true
	g := env.newGuest()

	w := g.spawn("Worker", nil)
	require.Equal(t, anyMap{"reply": "pong", "pings": uint64(1)}, fromCBOR[anyMap](t, g.ask(w, mustCBOR(t, anyMap{"op": "ping"}))))
	require.Equal(t, anyMap{"reply": "pong", "pings": uint64(2)}, fromCBOR[anyMap](t, g.ask(w, mustCBOR(t, anyMap{"op": "ping"}))))

	// exit stops this actor alone, running Terminate first.
	w2 := g.spawn("Worker", nil)
	env.host.take()
	require.Equal(t, int32(0), g.tell(w2, mustCBOR(t, anyMap{"op": "exit", "reason": "oops"})))
	calls := env.host.take()
	require.Len(t, calls, 2)
	require.Equal(t, "log", calls[0].op)
	require.True(t, strings.HasPrefix(calls[0].text, "worker stopping reason=oops"), calls[0].text)
	require.Equal(t, call{op: "stop", actor: w2.Serial, text: "oops"}, calls[1])

	// crash fails the instance with the panic as reason.
	require.Equal(t, int32(1), g.tell(w, mustCBOR(t, anyMap{"op": "crash"})))
	require.Equal(t, "panic: worker crashed on request", env.host.failure)
}

func TestBenchGuest(t *testing.T) {
	env := newWasmEnv(t, "testdata/guests/bench")
	env.host.route = true
	g := env.newGuest()
	require.Equal(t, "Blob\nEcho\nPoster\nSeqCheck\nSeqSend\nSink\nSource\nSpawner", string(g.slice(g.call("wasmactor_factories"))))

	count := mustCBOR(t, anyMap{"op": "count"})

	// Source floods Sink over the raw path.
	sink := g.spawn("Sink", nil)
	src := g.spawn("Source", nil)
	require.Equal(t, int32(0), g.tell(src, mustCBOR(t, []any{sink, 1000})))
	require.Equal(t, anyMap{"count": uint64(1000)}, fromCBOR[anyMap](t, g.ask(sink, count)))
	require.Equal(t, anyMap{"sent": uint64(1000), "failed": uint64(0)}, fromCBOR[anyMap](t, g.ask(src, count)))
	// Refused sends are counted, never retried.
	require.Equal(t, int32(0), g.tell(src, mustCBOR(t, []any{PID{miniNode, 9999}, 10})))
	require.Equal(t, anyMap{"sent": uint64(1000), "failed": uint64(10)}, fromCBOR[anyMap](t, g.ask(src, count)))

	// Poster likewise, its messages posted: refusals counted by the SDK.
	post := g.spawn("Poster", nil)
	require.Equal(t, int32(0), g.tell(post, mustCBOR(t, []any{sink, 1000})))
	require.Equal(t, int32(0), g.tell(post, mustCBOR(t, []any{PID{miniNode, 9999}, 10})))
	require.Equal(t, anyMap{"count": uint64(2000)}, fromCBOR[anyMap](t, g.ask(sink, count)))
	require.Equal(t, anyMap{"sent": uint64(1000), "failed": uint64(10)}, fromCBOR[anyMap](t, g.ask(post, count)))

	// Echo answers byte for byte, even what is not CBOR.
	echo := g.spawn("Echo", nil)
	require.Equal(t, []byte("\xffnot cbor"), g.ask(echo, []byte("\xffnot cbor")))

	// Spawner spawns Echo actors, which start.
	sp := g.spawn("Spawner", nil)
	before := len(env.host.alive)
	require.Equal(t, anyMap{"spawned": uint64(20), "failed": uint64(0)}, fromCBOR[anyMap](t, g.ask(sp, mustCBOR(t, anyMap{"n": 20}))))
	require.Equal(t, before+20, len(env.host.alive))
	require.Equal(t, []byte("hi"), g.ask(PID{miniNode, env.host.serial}, []byte("hi")))

	// SeqSend → SeqCheck in order, across two tells.
	chk := g.spawn("SeqCheck", nil)
	snd := g.spawn("SeqSend", nil)
	for range 2 {
		require.Equal(t, int32(0), g.tell(snd, mustCBOR(t, []any{chk, 7, 100})))
	}
	require.Equal(t, int32(0), g.tell(snd, mustCBOR(t, []any{chk, 8, 5})))
	require.Equal(t, int32(0), g.tell(snd, mustCBOR(t, []any{chk, 8, 5, 1})), "posted, continuing the seqs")
	require.Equal(t, anyMap{"sent": uint64(210), "failed": uint64(0)}, fromCBOR[anyMap](t, g.ask(snd, count)))
	clean := anyMap{"received": uint64(210), "gaps": uint64(0), "dups": uint64(0), "reorders": uint64(0), "restores": uint64(0)}
	require.Equal(t, clean, fromCBOR[anyMap](t, g.ask(chk, count)))

	// The checker notices a gap, a duplicate and a late message.
	for _, m := range [][]any{{7, 250}, {7, 250}, {7, 3}} {
		require.Equal(t, int32(0), g.tell(chk, mustCBOR(t, m)))
	}
	require.Equal(t, anyMap{"received": uint64(213), "gaps": uint64(49), "dups": uint64(1), "reorders": uint64(1), "restores": uint64(0)},
		fromCBOR[anyMap](t, g.ask(chk, count)))
}
