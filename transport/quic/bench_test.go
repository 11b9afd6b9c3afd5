package quic

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"io"
	"os"
	"slices"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	qgo "github.com/quic-go/quic-go"
	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor/transport"
)

const benchPayload = 100

// benchPair starts two nodes, a joined to b.
func benchPair(b *testing.B, ha, hb transport.Handler) (*Transport, *Transport) {
	b.Helper()
	ca, cb := testConfig("a"), testConfig("b")
	ca.Logger, cb.Logger = nil, nil
	ca.IdleTimeout, cb.IdleTimeout = 10*time.Second, 10*time.Second
	if l, err := strconv.Atoi(os.Getenv("WASMACTOR_BENCH_LANES")); err == nil {
		ca.Lanes, cb.Lanes = l, l
	}
	a := startNode(b, ca, ha)
	bn := startNode(b, cb, hb)
	require.NoError(b, a.Join(joinCtx(b), []string{bn.Self().Addr}))
	waitFor(b, 5*time.Second, "membership", func() bool { return len(a.Members()) == 1 && len(bn.Members()) == 1 })
	return a, bn
}

// countHandler counts envelopes and closes done when want have arrived.
type countHandler struct {
	*testHandler
	n    atomic.Int64
	want atomic.Int64
	done chan struct{}
}

func (h *countHandler) HandleEnvelopes(_ transport.NodeInfo, envs []transport.Envelope) {
	if n := h.n.Add(int64(len(envs))); n == h.want.Load() {
		close(h.done)
	}
}

// BenchmarkTransportOneWay: 100-byte envelopes from a to b over one
// connection, sent in batches of 256 from one goroutine.
func BenchmarkTransportOneWay(b *testing.B) {
	hb := &countHandler{testHandler: newHandler(), done: make(chan struct{})}
	a, _ := benchPair(b, newHandler(), hb)
	payload := make([]byte, benchPayload)
	const batch = 256
	envs := make([]transport.Envelope, batch)
	for i := range envs {
		envs[i] = transport.Envelope{Kind: 1, From: uint64(i%16 + 1), To: uint64(i%7 + 1), Payload: payload}
	}
	hb.want.Store(int64(b.N))
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	for sent := 0; sent < b.N; {
		n := min(batch, b.N-sent)
		for i := range n {
			envs[i].Ref = uint64(sent + i)
		}
		if err := a.Send("b", envs[:n]...); err != nil {
			// Queue full: back off as a well-behaved sender would, rather
			// than spin on one of the two cores the writers need.
			time.Sleep(20 * time.Microsecond)
			continue
		}
		sent += n
	}
	select {
	case <-hb.done:
	case <-time.After(60 * time.Second):
		b.Fatalf("received %d of %d", hb.n.Load(), b.N)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/msg")
}

// BenchmarkRawQUICOneWay is the baseline: the same 100-byte messages,
// length-prefixed and written 256 at a time by one goroutine on one plain
// quic-go stream, counted by a reader on the other side.
func BenchmarkRawQUICOneWay(b *testing.B) {
	srvTLS, cliTLS, err := tlsConfigs(nil, "", "", "")
	require.NoError(b, err)
	qc := quicConfig(5*time.Second, 10*time.Second, 2*time.Second, 10)
	ln, err := qgo.ListenAddr("127.0.0.1:0", srvTLS, qc)
	require.NoError(b, err)
	defer ln.Close()
	ctx := joinCtx(b)
	done := make(chan int, 1)
	go func() {
		conn, err := ln.Accept(ctx)
		if err != nil {
			done <- -1
			return
		}
		str, err := conn.AcceptUniStream(ctx)
		if err != nil {
			done <- -1
			return
		}
		r := bufio.NewReaderSize(str, 64<<10)
		n := 0
		msg := make([]byte, benchPayload)
		for {
			l, err := binary.ReadUvarint(r)
			if err != nil {
				break
			}
			if _, err := io.ReadFull(r, msg[:l]); err != nil {
				break
			}
			n++
		}
		done <- n
	}()
	conn, err := qgo.DialAddr(ctx, ln.Addr().String(), cliTLS, qc)
	require.NoError(b, err)
	defer conn.CloseWithError(0, "")
	str, err := conn.OpenUniStream()
	require.NoError(b, err)
	payload := make([]byte, benchPayload)
	buf := make([]byte, 0, 256*(benchPayload+2))
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	for sent := 0; sent < b.N; {
		buf = buf[:0]
		n := min(256, b.N-sent)
		for range n {
			buf = binary.AppendUvarint(buf, benchPayload)
			buf = append(buf, payload...)
		}
		_, err := str.Write(buf)
		require.NoError(b, err)
		sent += n
	}
	str.Close()
	select {
	case n := <-done:
		require.Equal(b, b.N, n)
	case <-time.After(60 * time.Second):
		b.Fatal("raw receiver stuck")
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/msg")
}

// echoBack answers every envelope with an envelope to its sender.
type echoBack struct {
	*testHandler
	tr atomic.Pointer[Transport]
}

func (h *echoBack) HandleEnvelopes(from transport.NodeInfo, envs []transport.Envelope) {
	for i := range envs {
		envs[i].From, envs[i].To = envs[i].To, envs[i].From
	}
	h.tr.Load().Send(from.Name, envs...)
}

// BenchmarkTransportRTT: an envelope from a to b answered by an envelope
// from b to a, one at a time; reports the median and 99th percentile.
// Like the raw baseline, whose loop writes the next request from the
// goroutine that read the reply, the next request leaves from the handler
// that received the reply (as an actor would send it).
func BenchmarkTransportRTT(b *testing.B) {
	ha := newHandler()
	hb := &echoBack{testHandler: newHandler()}
	a, bn := benchPair(b, ha, hb)
	hb.tr.Store(bn)
	payload := make([]byte, benchPayload)
	env := transport.Envelope{Kind: 1, From: 1, To: 2, Payload: payload}
	var (
		lat   []time.Duration
		t0    time.Time
		left  int
		done  = make(chan struct{})
		fails atomic.Int64
	)
	send := func() {
		t0 = time.Now()
		if err := a.Send("b", env); err != nil {
			fails.Add(1)
		}
	}
	ha.onEnvelopes = func(transport.NodeInfo, []transport.Envelope) {
		lat = append(lat, time.Since(t0))
		if left--; left <= 0 {
			close(done)
			return
		}
		send()
	}
	run := func(n int) {
		lat, left, done = lat[:0], n, make(chan struct{})
		send()
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			b.Fatalf("%d round trips left", left)
		}
	}
	lat = make([]time.Duration, 0, max(b.N, 1000))
	run(1000) // warm up: windows, allocations, goroutines
	b.ResetTimer()
	run(b.N)
	b.StopTimer()
	require.Zero(b, fails.Load())
	reportPercentiles(b, lat)
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[int(float64(len(lat)-1)*p)].Nanoseconds()) / 1e3
	}
	b.ReportMetric(pct(0.50), "p50-us")
	b.ReportMetric(pct(0.99), "p99-us")
}

// BenchmarkRawQUICRTT is the baseline round trip: a 100-byte message
// echoed on one plain quic-go bidirectional stream.
func BenchmarkRawQUICRTT(b *testing.B) {
	srvTLS, cliTLS, err := tlsConfigs(nil, "", "", "")
	require.NoError(b, err)
	qc := quicConfig(5*time.Second, 10*time.Second, 2*time.Second, 10)
	ln, err := qgo.ListenAddr("127.0.0.1:0", srvTLS, qc)
	require.NoError(b, err)
	defer ln.Close()
	ctx := joinCtx(b)
	go func() {
		conn, err := ln.Accept(ctx)
		if err != nil {
			return
		}
		str, err := conn.AcceptStream(ctx)
		if err != nil {
			return
		}
		io.Copy(str, str)
	}()
	conn, err := qgo.DialAddr(ctx, ln.Addr().String(), cliTLS, qc)
	require.NoError(b, err)
	defer conn.CloseWithError(0, "")
	str, err := conn.OpenStreamSync(ctx)
	require.NoError(b, err)
	msg := make([]byte, benchPayload)
	for range 1000 {
		str.Write(msg)
		io.ReadFull(str, msg)
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if _, err := str.Write(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(str, msg); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	reportPercentiles(b, lat)
}

// BenchmarkHandshake: a client connects to a node and completes the
// cookie handshake (QUIC + TLS 1.3 + nonces and proofs), then closes.
func BenchmarkHandshake(b *testing.B) {
	cfg := testConfig("s")
	cfg.Logger = nil
	s := startNode(b, cfg, newHandler())
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		c, err := Dial(ctx, s.Self().Addr, ClientConfig{Cookie: testCookie})
		if err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/1e3/float64(b.N), "ms/op")
}

var _ = tls.VersionTLS13

// cpuTime is the CPU time (user and system) the process has used, in
// nanoseconds. On a noisy machine, CPU per message compares designs more
// stably than wall-clock throughput.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
