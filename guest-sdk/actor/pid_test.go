package actor

import (
	"math"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/stretchr/testify/require"
)

func TestPIDCBOR(t *testing.T) {
	type envelope struct {
		To   PID   `cbor:"to"`
		Many []PID `cbor:"many"`
	}
	in := envelope{To: PID{Incarnation: math.MaxUint64, Serial: 17}, Many: []PID{{1, 2}, {}}}
	b, err := cbor.Marshal(in)
	require.NoError(t, err)

	// The wire form is the array [node, serial], what other SDKs and the
	// host expect.
	var generic map[string]any
	require.NoError(t, cbor.Unmarshal(b, &generic))
	require.Equal(t, []any{uint64(math.MaxUint64), uint64(17)}, generic["to"])

	var out envelope
	require.NoError(t, cbor.Unmarshal(b, &out))
	require.Equal(t, in, out)

	// Decoding accepts what any encoder produces for [node, serial].
	var p PID
	require.NoError(t, cbor.Unmarshal([]byte{0x82, 0x1b, 0, 0, 0, 0, 0, 0, 0, 5, 0x06}, &p))
	require.Equal(t, PID{5, 6}, p)
	for _, bad := range [][]byte{{0x83, 1, 2, 3}, {0x82, 0x20, 1}, {0x82, 1}, {0xa0}} {
		require.Error(t, cbor.Unmarshal(bad, &p), "%x", bad)
	}
}

func TestPIDString(t *testing.T) {
	// All 16 hex digits, as in the host's <node.incarnation.serial>.
	require.Equal(t, "<00000000000000ff.17>", PID{Incarnation: 255, Serial: 17}.String())
	require.Equal(t, "<3f9a0c11d2e4b607.18446744073709551615>", PID{Incarnation: 0x3f9a0c11d2e4b607, Serial: 1<<64 - 1}.String())
	require.Equal(t, "<0000000000000000.0>", PID{}.String())
	require.True(t, PID{}.IsZero())
	require.False(t, PID{Serial: 1}.IsZero())
}

func TestCBORLite(t *testing.T) {
	for _, v := range []uint64{0, 23, 24, 255, 256, 65535, 65536, 1<<32 - 1, 1 << 32, math.MaxUint64} {
		b := AppendUint(nil, v)
		want, err := cbor.Marshal(v)
		require.NoError(t, err)
		require.Equal(t, want, b, "shortest form of %d", v)
		got, rest, err := ReadUint(b)
		require.NoError(t, err)
		require.Empty(t, rest)
		require.Equal(t, v, got)
	}
	_, _, err := ReadUint([]byte{0x1b, 1, 2})
	require.Error(t, err, "truncated")
	_, _, err = ReadUint([]byte{0x1c})
	require.Error(t, err, "reserved additional info")
	_, _, err = ReadUint(nil)
	require.Error(t, err)

	b := AppendArrayHeader(nil, 2)
	b = AppendBytes(b, []byte("xyz"))
	b = AppendPID(b, PID{1, 300})
	var decoded []cbor.RawMessage
	require.NoError(t, cbor.Unmarshal(b, &decoded))
	require.Len(t, decoded, 2)

	n, rest, err := ReadArrayHeader(b)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	p, rest, err := ReadBytes(rest)
	require.NoError(t, err)
	require.Equal(t, []byte("xyz"), p)
	pid, rest, err := ReadPID(rest)
	require.NoError(t, err)
	require.Equal(t, PID{1, 300}, pid)
	require.Empty(t, rest)

	_, _, err = ReadArrayHeader([]byte{0x9a, 0xff, 0xff, 0xff, 0xff})
	require.Error(t, err, "more elements than bytes")
	_, _, err = ReadBytes([]byte{0x45, 1})
	require.Error(t, err, "string past the end")
}

func TestMessageDecode(t *testing.T) {
	type op struct {
		Op string `cbor:"op"`
		By int64  `cbor:"by"`
	}
	b, err := cbor.Marshal(map[string]any{"op": "inc", "by": 5})
	require.NoError(t, err)
	m := Message{data: b, kind: kindAsk, from: PID{1, 2}}
	v, err := Decode[op](m)
	require.NoError(t, err)
	require.Equal(t, op{"inc", 5}, v)
	require.True(t, m.IsAsk())
	require.Equal(t, PID{1, 2}, m.From())
	require.Equal(t, len(b), m.Len())

	_, err = Decode[op](Message{data: []byte{0xff}})
	require.Error(t, err)
}
