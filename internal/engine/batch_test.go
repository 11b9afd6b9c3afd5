package engine

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/wasmactor/wasmactor/internal/abi"
)

func TestBatchRoundTrip(t *testing.T) {
	records := []Record{
		{Kind: abi.KindStart, Actor: 1, From: abi.PID{Incarnation: 5, Serial: 6}, Factory: "Counter", Payload: []byte{0xa1, 0x01, 0x02}},
		{Kind: abi.KindStart, Actor: 2, Factory: "Counter@abc123"},
		{Kind: abi.KindRestore, Actor: 3, Factory: "C", Payload: []byte("state")},
		{Kind: abi.KindTell, Actor: 1, From: abi.PID{Incarnation: 5, Serial: 6}, Payload: []byte("1234567")}, // 55 bytes: padded to 56
		{Kind: abi.KindTell, Actor: 1, From: abi.PID{Incarnation: 5, Serial: 6}, Payload: []byte("12345678")},
		{Kind: abi.KindAsk, Actor: 1, From: abi.PID{Incarnation: 1<<63 + 1, Serial: 1<<64 - 1}, Ref: 1<<64 - 2, Payload: []byte("q")},
		{Kind: abi.KindReply, Status: abi.Timeout, Actor: 1, Ref: 9},
		{Kind: abi.KindDown, Actor: 1, From: abi.PID{Incarnation: 5, Serial: 7}, Ref: 3, Payload: []byte("noproc")},
		{Kind: abi.KindExit, Actor: 1, From: abi.PID{Incarnation: 5, Serial: 7}, Payload: []byte("killed")},
		{Kind: abi.KindStop, Actor: 1, Payload: []byte("shutdown")},
		{Kind: 77, Actor: 4, Payload: bytes.Repeat([]byte{0xff}, 300)},
	}
	var b Batch
	// Dirty the buffer first: Reset must not let old bytes leak into padding.
	b.Add(&Record{Kind: abi.KindTell, Payload: bytes.Repeat([]byte{0xee}, 4096)})
	b.Reset()
	for i := range records {
		b.Add(&records[i])
	}
	require.Equal(t, len(records), b.Len())

	var got []Record
	require.NoError(t, DecodeBatch(b.Bytes(), func(r *Record) error {
		c := *r
		c.Payload = append([]byte(nil), r.Payload...)
		got = append(got, c)
		return nil
	}))
	for i := range records {
		if records[i].Payload == nil {
			records[i].Payload = []byte{}
		}
		if got[i].Payload == nil {
			got[i].Payload = []byte{}
		}
	}
	require.Equal(t, records, got)

	// The layout, byte by byte, for the first TELL (abi.md "Batch records").
	off := 0
	for range 3 {
		off += int(binary.LittleEndian.Uint32(b.Bytes()[off:]))
	}
	tell := b.Bytes()[off : off+56]
	require.Equal(t, uint32(56), binary.LittleEndian.Uint32(tell[0:]))
	require.Equal(t, uint16(abi.KindTell), binary.LittleEndian.Uint16(tell[4:]))
	require.Equal(t, uint64(5), binary.LittleEndian.Uint64(tell[16:]))
	require.Equal(t, uint32(7), binary.LittleEndian.Uint32(tell[40:]))
	require.Equal(t, []byte{0, 0, 0, 0}, tell[44:48], "reserved")
	require.Equal(t, []byte("1234567\x00"), tell[48:], "payload, then zero padding")
	for off := 0; off < len(b.Bytes()); off += int(binary.LittleEndian.Uint32(b.Bytes()[off:])) {
		require.Zero(t, off%8, "records start on 8-byte boundaries")
	}
}

func TestBatchAddPanicsOnHugeFactory(t *testing.T) {
	var b Batch
	require.Panics(t, func() {
		b.Add(&Record{Kind: abi.KindStart, Factory: string(make([]byte, MaxFactoryName+1))})
	})
}

func TestDecodeBatchRejects(t *testing.T) {
	header := func(size, plen uint32, kind abi.Kind) []byte {
		h := make([]byte, size)
		binary.LittleEndian.PutUint32(h, size)
		binary.LittleEndian.PutUint16(h[4:], uint16(kind))
		binary.LittleEndian.PutUint32(h[40:], plen)
		return h
	}
	startWithName := func(nameLen uint16) []byte {
		h := header(56, 8, abi.KindStart)
		binary.LittleEndian.PutUint16(h[48:], nameLen)
		return h
	}
	tests := map[string][]byte{
		"short":            make([]byte, 47),
		"size 0":           make([]byte, 48),
		"size unaligned":   header(52, 0, abi.KindTell)[:52],
		"size past end":    header(56, 0, abi.KindTell)[:48],
		"payload too long": header(56, 9, abi.KindTell),
		"start no name":    header(48, 0, abi.KindStart),
		"name overruns":    startWithName(7),
		"trailing bytes":   append(header(48, 0, abi.KindTell), 1, 2, 3),
	}
	for name, buf := range tests {
		t.Run(name, func(t *testing.T) {
			err := DecodeBatch(buf, func(*Record) error { return nil })
			require.ErrorIs(t, err, ErrBadBatch)
		})
	}
	stop := errors.New("stop")
	require.ErrorIs(t, DecodeBatch(startBatch(1, "A").Bytes(), func(*Record) error { return stop }), stop)
}

func BenchmarkBatchAdd(b *testing.B) {
	var batch Batch
	payload := make([]byte, 100)
	r := Record{Kind: abi.KindTell, Actor: 1, From: abi.PID{Incarnation: 1, Serial: 2}, Payload: payload}
	b.ReportAllocs()
	for b.Loop() {
		batch.Reset()
		for range 64 {
			batch.Add(&r)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*64), "ns/msg")
}

// FuzzDecodeBatch: the decoder never panics or reads out of bounds, and what
// it accepts re-encodes to the same bytes (up to padding, which it skips).
func FuzzDecodeBatch(f *testing.F) {
	var b Batch
	b.Add(&Record{Kind: abi.KindStart, Actor: 1, Factory: "Echo", Payload: []byte{1}})
	b.Add(&Record{Kind: abi.KindAsk, Actor: 1, From: abi.PID{Incarnation: 2, Serial: 3}, Ref: 4, Payload: []byte("hello")})
	f.Add(b.Bytes())
	f.Add([]byte{})
	f.Add(make([]byte, 48))
	f.Fuzz(func(t *testing.T, buf []byte) {
		var again Batch
		err := DecodeBatch(buf, func(r *Record) error {
			if len(r.Factory) > MaxFactoryName {
				return errors.New("skip")
			}
			again.Add(r)
			return nil
		})
		if err != nil {
			return
		}
		// Re-decoding what we encoded gives the same records.
		var first, second []Record
		collect := func(out *[]Record) func(*Record) error {
			return func(r *Record) error {
				c := *r
				c.Payload = bytes.Clone(r.Payload)
				*out = append(*out, c)
				return nil
			}
		}
		require.NoError(t, DecodeBatch(buf, collect(&first)))
		require.NoError(t, DecodeBatch(again.Bytes(), collect(&second)))
		require.Equal(t, first, second)
	})
}
