package wire

import (
	"bytes"
	"errors"
	"io"
	"math"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/transport"
)

func sampleEnvelopes() []transport.Envelope {
	return []transport.Envelope{
		{},
		{Kind: 1, To: 7, From: 9, Payload: []byte("hello")},
		{Kind: 255, Status: 65535, ToIncarnation: math.MaxUint64, To: 1 << 32, From: 1<<32 - 1, Ref: 23, Payload: bytes.Repeat([]byte{0xab}, 300)},
		{Status: 24, Ref: 256, Payload: bytes.Repeat([]byte{1}, 70000)},
		{Kind: 2, To: 3, From: 4, Ref: 5, Payload: []byte{0xa0}, Trace: bytes.Repeat([]byte{7}, 26)},
		{Kind: 3, Trace: []byte{0}},
	}
}

func TestEnvelopesMatchReflectionCodec(t *testing.T) {
	envs := sampleEnvelopes()
	want, err := Marshal(envs)
	require.NoError(t, err)
	got := AppendEnvelopes(nil, envs)
	require.Equal(t, want, got, "hand-written encoder must produce the deterministic encoding")

	n := ArrayHeadLen(len(envs))
	for i := range envs {
		n += EnvelopeSize(&envs[i])
	}
	require.Equal(t, len(got), n)

	dec, err := DecodeEnvelopes(got)
	require.NoError(t, err)
	requireSameEnvelopes(t, envs, dec)

	frame := AppendBatchFrame(nil, envs)
	body, rest, err := Split(frame, len(frame))
	require.NoError(t, err)
	require.Empty(t, rest)
	require.Equal(t, got, body)
}

func requireSameEnvelopes(t testing.TB, want, got []transport.Envelope) {
	t.Helper()
	require.Len(t, got, len(want))
	for i := range want {
		w, g := want[i], got[i]
		require.True(t, bytes.Equal(w.Payload, g.Payload), "payload %d", i)
		require.True(t, bytes.Equal(w.Trace, g.Trace), "trace %d", i)
		w.Payload, g.Payload, w.Trace, g.Trace = nil, nil, nil, nil
		require.Equal(t, w, g, "envelope %d", i)
	}
}

func TestDecodeEnvelopesStrict(t *testing.T) {
	cases := []struct {
		name string
		in   []byte
		ok   bool
	}{
		{"empty array", []byte{0x80}, true},
		{"one empty map", []byte{0x81, 0xa0}, true},
		{"unknown key ignored", []byte{0x81, 0xa1, 0x09, 0x01}, true},
		{"trace", []byte{0x81, 0xa1, 0x08, 0x41, 0x00}, true},
		{"trace as uint", []byte{0x81, 0xa1, 0x08, 0x01}, false},
		{"trace as text", []byte{0x81, 0xa1, 0x08, 0x61, 'x'}, false},
		{"duplicate trace", []byte{0x81, 0xa2, 0x08, 0x40, 0x08, 0x40}, false},
		{"payload as text", []byte{0x81, 0xa1, 0x07, 0x61, 'x'}, false},
		{"payload as array", []byte{0x81, 0xa1, 0x07, 0x81, 0x81, 0x40}, false},
		{"duplicate key", []byte{0x81, 0xa2, 0x04, 0x01, 0x04, 0x02}, false},
		{"kind out of range", []byte{0x81, 0xa1, 0x01, 0x19, 0x01, 0x00}, false},
		{"indefinite array", []byte{0x9f, 0xa0, 0xff}, false},
		{"indefinite map", []byte{0x81, 0xbf, 0x04, 0x01, 0xff}, false},
		{"tag", []byte{0xc1, 0x80}, false},
		{"trailing bytes", []byte{0x80, 0x00}, false},
		{"truncated", []byte{0x82, 0xa0}, false},
		{"null", []byte{0xf6}, false},
		{"not an array", []byte{0xa0}, false},
		{"empty input", nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodeEnvelopes(c.in)
			if c.ok {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
				require.ErrorIs(t, err, wasmactor.ErrBadArgument)
			}
		})
	}
}

func TestSplitAndReader(t *testing.T) {
	var stream []byte
	bodies := [][]byte{{0x80}, bytes.Repeat([]byte{7}, 127), bytes.Repeat([]byte{8}, 128), bytes.Repeat([]byte{9}, 20000)}
	for _, b := range bodies {
		require.Equal(t, HeaderLen(len(b)), len(AppendHeader(nil, len(b))))
		stream = AppendFrame(stream, b)
	}
	rest := stream
	for _, want := range bodies {
		var body []byte
		var err error
		body, rest, err = Split(rest, 1<<20)
		require.NoError(t, err)
		require.Equal(t, want, body)
	}
	require.Empty(t, rest)

	r := NewReader(bytes.NewReader(stream), 1<<20, 0)
	for _, want := range bodies {
		body, err := r.Next()
		require.NoError(t, err)
		require.Equal(t, want, body)
	}
	_, err := r.Next()
	require.ErrorIs(t, err, io.EOF)

	partial := AppendFrame(nil, bodies[3])[:100]
	_, _, err = Split(partial, 1<<20)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	_, err = NewReader(bytes.NewReader(partial), 1<<20, 0).Next()
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)

	for _, bad := range [][]byte{
		{0x80, 0x00},                   // non-minimal
		bytes.Repeat([]byte{0xff}, 11), // overflow
		{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02},
	} {
		_, _, err := Split(bad, math.MaxInt)
		require.ErrorIs(t, err, ErrMalformed)
		_, err = NewReader(bytes.NewReader(bad), math.MaxInt, 0).Next()
		require.ErrorIs(t, err, ErrMalformed)
	}
}

// endless yields a frame header declaring 1 TiB and then zeros forever: a
// reader that trusted the header would allocate or read without end.
type endless struct{ sent bool }

func (e *endless) Read(p []byte) (int, error) {
	if !e.sent {
		e.sent = true
		return copy(p, AppendHeader(nil, 1<<40)), nil
	}
	clear(p)
	return len(p), nil
}

func TestOverCapFrameBoundedMemory(t *testing.T) {
	const max = 64 << 10
	before := totalAlloc()
	for i := 0; i < 100; i++ {
		r := NewReader(&endless{}, max, 0)
		_, err := r.Next()
		var tooLarge *FrameTooLargeError
		require.ErrorAs(t, err, &tooLarge)
		require.ErrorIs(t, err, transport.ErrFrameTooLarge)
		require.EqualValues(t, uint64(1<<40), tooLarge.Size)
		require.Equal(t, max, tooLarge.Max)

		_, _, err = Split(AppendHeader(nil, 1<<40), max)
		require.ErrorIs(t, err, transport.ErrFrameTooLarge)
	}
	// 100 readers of 4 KiB buffers plus errors: far below one claimed frame.
	require.Less(t, totalAlloc()-before, uint64(2<<20))
}

func totalAlloc() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.TotalAlloc
}

func TestCBORBombsRejectedInBoundedMemory(t *testing.T) {
	deep := bytes.Repeat([]byte{0x81}, 100000)
	deep = append(deep, 0x80)
	bombs := map[string][]byte{
		"array of 2^32 elements":      {0x9a, 0xff, 0xff, 0xff, 0xff, 0xa0},
		"array of 2^64-1 elements":    {0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		"array just over the cap":     appendHead(nil, majorArray, MaxBatch+1),
		"map of 2^31 pairs":           {0x81, 0xba, 0x80, 0x00, 0x00, 0x00, 0x01, 0x01},
		"byte string of 2^60 bytes":   {0x81, 0xa1, 0x07, 0x5b, 0x10, 0, 0, 0, 0, 0, 0, 0},
		"deep nesting":                deep,
		"declared elements > content": {0x99, 0x10, 0x00, 0xa0, 0xa0},
	}
	for name, in := range bombs {
		t.Run(name, func(t *testing.T) {
			before := totalAlloc()
			_, err := DecodeEnvelopes(in)
			require.Error(t, err)
			var anyv any
			require.Error(t, Unmarshal(in, &anyv))
			// The inputs are tiny; what they declare is gigabytes.
			require.Less(t, totalAlloc()-before, uint64(4<<20)+uint64(len(in))*8)
		})
	}
}

func TestFrameTooLargeErrorMatches(t *testing.T) {
	var err error = &FrameTooLargeError{Size: 10, Max: 5}
	require.True(t, errors.Is(err, transport.ErrFrameTooLarge))
	require.Contains(t, err.Error(), "10")
}

func TestMarshalDeterministic(t *testing.T) {
	m1 := map[string]int{"b": 1, "a": 2, "c": 3}
	a, err := Marshal(m1)
	require.NoError(t, err)
	for i := 0; i < 10; i++ {
		b, err := Marshal(map[string]int{"c": 3, "a": 2, "b": 1})
		require.NoError(t, err)
		require.Equal(t, a, b)
	}
	var back map[string]int
	require.NoError(t, Unmarshal(a, &back))
	require.Equal(t, m1, back)
}

func BenchmarkAppendEnvelopes(b *testing.B) {
	envs := make([]transport.Envelope, 256)
	for i := range envs {
		envs[i] = transport.Envelope{Kind: 1, To: uint64(i + 1), From: 77, Ref: uint64(i), Payload: make([]byte, 100)}
	}
	buf := make([]byte, 0, 64<<10)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendBatchFrame(buf[:0], envs)
	}
	b.ReportMetric(float64(b.N)*float64(len(envs))/b.Elapsed().Seconds(), "envs/s")
}

func BenchmarkDecodeEnvelopes(b *testing.B) {
	envs := make([]transport.Envelope, 256)
	for i := range envs {
		envs[i] = transport.Envelope{Kind: 1, To: uint64(i + 1), From: 77, Ref: uint64(i), Payload: make([]byte, 100)}
	}
	body := AppendEnvelopes(nil, envs)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeEnvelopes(body); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*float64(len(envs))/b.Elapsed().Seconds(), "envs/s")
}

// trickle returns at most n bytes per Read, to exercise frames split
// across reads and chunks.
type trickle struct {
	r io.Reader
	n int
}

func (t *trickle) Read(p []byte) (int, error) {
	if len(p) > t.n {
		p = p[:t.n]
	}
	return t.r.Read(p)
}

func TestChunkReader(t *testing.T) {
	var stream []byte
	var bodies [][]byte
	for i := 0; i < 200; i++ {
		b := bytes.Repeat([]byte{byte(i)}, (i*37)%3000+1)
		bodies = append(bodies, b)
		stream = AppendFrame(stream, b)
	}
	for _, step := range []int{1, 7, 100, 4096, 1 << 20} {
		r := NewChunkReader(&trickle{bytes.NewReader(stream), step}, 4096, 1024)
		var got [][]byte
		for {
			b, err := r.Next()
			if err != nil {
				require.ErrorIs(t, err, io.EOF)
				break
			}
			got = append(got, b)
		}
		// Bodies handed out earlier are never overwritten.
		require.Equal(t, bodies, got, "step %d", step)
	}
	_, err := NewChunkReader(bytes.NewReader(stream[:len(stream)-1]), 4096, 1024).Next()
	require.NoError(t, err)
	r := NewChunkReader(bytes.NewReader(stream[:len(stream)-1]), 4096, 1<<20)
	for err == nil {
		_, err = r.Next()
	}
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)

	before := totalAlloc()
	_, err = NewChunkReader(&endless{}, 64<<10, 4096).Next()
	require.ErrorIs(t, err, transport.ErrFrameTooLarge)
	require.Less(t, totalAlloc()-before, uint64(1<<20))
}

// A batch over MaxBatch is refused before decoding, whichever path would
// have decoded it; one at the cap decodes on both.
func TestBatchCap(t *testing.T) {
	batch := func(n int, unusual bool) []byte {
		b := appendHead(nil, majorArray, uint64(n))
		for range n - 1 {
			b = append(b, 0xa0)
		}
		if unusual {
			return append(b, 0xa1, 0x09, 0x01) // an unknown key: the strict decoder's case
		}
		return append(b, 0xa0)
	}
	for _, unusual := range []bool{false, true} {
		envs, err := DecodeEnvelopes(batch(MaxBatch, unusual))
		require.NoError(t, err)
		require.Len(t, envs, MaxBatch)
		_, err = DecodeEnvelopes(batch(MaxBatch+1, unusual))
		require.ErrorIs(t, err, ErrMalformed)
		require.ErrorContains(t, err, "batch of 8193 envelopes, at most 8192")
	}
}

func TestAppendDecodedEnvelopes(t *testing.T) {
	a := sampleEnvelopes()[:2]
	b := sampleEnvelopes()[2:]
	envs, err := AppendDecodedEnvelopes(nil, AppendEnvelopes(nil, a))
	require.NoError(t, err)
	envs, err = AppendDecodedEnvelopes(envs, AppendEnvelopes(nil, b))
	require.NoError(t, err)
	requireSameEnvelopes(t, sampleEnvelopes(), envs)
	envs2, err := AppendDecodedEnvelopes(envs, []byte{0x81, 0xa1, 0x09, 0x01}) // slow path
	require.NoError(t, err)
	require.Len(t, envs2, len(envs)+1)
	envs3, err := AppendDecodedEnvelopes(envs, []byte{0x82})
	require.Error(t, err)
	require.Len(t, envs3, len(envs))
}

// stalled yields prefix and then reports the stream ended (or, with block,
// fails the way a stream whose peer went quiet times out).
type stalled struct {
	prefix []byte
	err    error
}

func (s *stalled) Read(p []byte) (int, error) {
	if len(s.prefix) > 0 {
		n := copy(p, s.prefix)
		s.prefix = s.prefix[n:]
		return n, nil
	}
	return 0, s.err
}

// A peer declares a frame at the cap and sends none (or little) of it: the
// readers allocate in proportion to what arrived, not to the declared size.
// Before they allocated the whole declared frame up front: 64 MiB per frame,
// per stream.
func TestDeclaredHugeEmptyFrameAllocatesLittle(t *testing.T) {
	const max = 64 << 20
	readers := map[string]func(io.Reader) func() ([]byte, error){
		"Reader":      func(r io.Reader) func() ([]byte, error) { return NewReader(r, max, 0).Next },
		"ChunkReader": func(r io.Reader) func() ([]byte, error) { return NewChunkReader(r, max, 256<<10).Next },
	}
	for name, open := range readers {
		t.Run(name, func(t *testing.T) {
			for _, sent := range []int{0, 1 << 20} {
				const runs = 10
				in := append(AppendHeader(nil, max), make([]byte, sent)...)
				before := totalAlloc()
				for i := 0; i < runs; i++ {
					next := open(&stalled{prefix: in, err: io.EOF})
					_, err := next()
					require.ErrorIs(t, err, io.ErrUnexpectedEOF)
				}
				per := (totalAlloc() - before) / runs
				// A first chunk, then buffers doubling with what arrived:
				// the last is at most twice that, all of them four times.
				require.Less(t, per, uint64(4*sent+300<<10), "declared %d bytes, sent %d, allocated %d per frame", max, sent, per)
				t.Logf("declared %d MiB, sent %d bytes: %d bytes allocated", max>>20, sent, per)
			}
		})
	}
}

func TestReadNGrowsWithData(t *testing.T) {
	data := bytes.Repeat([]byte{0x5a}, 3<<20+17)
	for _, step := range []int{1 << 20, 4093, 7} {
		got, err := ReadN(&trickle{bytes.NewReader(data), step}, len(data))
		require.NoError(t, err)
		require.Equal(t, data, got)
	}
	got, err := ReadN(bytes.NewReader(nil), 0)
	require.NoError(t, err)
	require.Empty(t, got)
	_, err = ReadN(bytes.NewReader(data[:10]), 11)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	_, err = ReadN(&stalled{prefix: data[:5], err: io.ErrClosedPipe}, 11)
	require.ErrorIs(t, err, io.ErrClosedPipe)
}

// The envelope codec allocates nothing of its own, traced or not: encoding
// appends to the caller's buffer and decoding to the caller's slice, with
// payloads and trace contexts pointing into the body.
func TestEnvelopeCodecAllocatesNothing(t *testing.T) {
	for _, trace := range [][]byte{nil, bytes.Repeat([]byte{1}, 26)} {
		envs := make([]transport.Envelope, 64)
		for i := range envs {
			envs[i] = transport.Envelope{Kind: 2, To: uint64(i + 1), From: 77, Ref: uint64(i), Payload: make([]byte, 100), Trace: trace}
		}
		buf := AppendBatchFrame(nil, envs)
		body, _, err := Split(buf, len(buf))
		require.NoError(t, err)
		dst := make([]transport.Envelope, 0, len(envs))
		allocs := testing.AllocsPerRun(100, func() {
			buf = AppendBatchFrame(buf[:0], envs)
			if dst, err = AppendDecodedEnvelopes(dst[:0], body); err != nil {
				t.Fatal(err)
			}
		})
		require.Zero(t, allocs, "traced: %v", trace != nil)
		requireSameEnvelopes(t, envs, dst)
	}
}
