package typed

import (
	"math"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/stretchr/testify/require"
)

// TestID pins the hash: other SDKs and the CLI compute the same tags.
func TestID(t *testing.T) {
	require.Equal(t, uint64(0x8000_0000+(0x811c9dc5&0x3fff_ffff)), ID(""))
	for _, name := range []string{"Deposit", "wasmactor.Error", "x", "a long name with spaces"} {
		id := ID(name)
		require.True(t, IsType(id), name)
		b := AppendTag(nil, id)
		require.Len(t, b, 5, "a type tag is always a 5-byte head")
		require.Equal(t, byte(0xda), b[0])
	}
	require.NotEqual(t, ID("Deposit"), ID("Withdraw"))
	// The examples docs/abi.md gives.
	require.Equal(t, uint64(0x95f76a55), ID("Deposit"))
	require.Equal(t, uint64(0x83c930f2), ErrorType)
	require.False(t, IsType(55799))
}

func TestSplit(t *testing.T) {
	tag, body, ok := Split(append(AppendTag(nil, ID("A")), 0xa0))
	require.True(t, ok)
	require.Equal(t, ID("A"), tag)
	require.Equal(t, []byte{0xa0}, body)
	for _, in := range [][]byte{nil, {0xa0}, AppendTag(nil, 1), append(AppendTag(nil, 0xc000_0000), 0xa0)} {
		_, _, ok := Split(in)
		require.False(t, ok, "%x", in)
	}
}

func TestIntegers(t *testing.T) {
	for _, v := range []int64{0, 1, 23, 24, 255, 256, 65535, 65536, math.MaxUint32, math.MaxUint32 + 1, math.MaxInt64, -1, -24, -25, -256, -257, math.MinInt64} {
		b := AppendInt(nil, v)
		lib, err := cbor.Marshal(v)
		require.NoError(t, err)
		require.Equal(t, lib, b, "%d: shortest form, as fxamacker writes", v)
		got, rest, err := ReadInt(b)
		require.NoError(t, err)
		require.Empty(t, rest)
		require.Equal(t, v, got)
	}
	_, _, err := ReadInt(AppendUint(nil, math.MaxUint64))
	require.ErrorIs(t, err, ErrMalformed)
	_, _, err = ReadUint(AppendInt(nil, -1))
	require.ErrorIs(t, err, ErrMalformed)
	_, _, err = ReadIntN(AppendInt(nil, 128), 8)
	require.ErrorContains(t, err, "out of range")
	v, _, err := ReadIntN(AppendInt(nil, -128), 8)
	require.NoError(t, err)
	require.Equal(t, int64(-128), v)
	_, _, err = ReadUintN(AppendUint(nil, 256), 8)
	require.ErrorContains(t, err, "out of range")
}

func TestFloats(t *testing.T) {
	for _, tc := range []struct {
		in   []byte
		want float64
	}{
		{[]byte{0xf9, 0x3c, 0x00}, 1},
		{[]byte{0xf9, 0xc4, 0x00}, -4},
		{[]byte{0xf9, 0x00, 0x01}, 5.960464477539063e-8},
		{[]byte{0xf9, 0x7b, 0xff}, 65504},
		{[]byte{0xf9, 0x7c, 0x00}, math.Inf(1)},
		{[]byte{0xf9, 0xfc, 0x00}, math.Inf(-1)},
		{AppendFloat32(nil, 1.5), 1.5},
		{AppendFloat64(nil, -2.5e300), -2.5e300},
		{AppendInt(nil, -3), -3},
		{AppendUint(nil, 7), 7},
	} {
		got, rest, err := ReadFloat(tc.in)
		require.NoError(t, err)
		require.Empty(t, rest)
		require.Equal(t, tc.want, got, "%x", tc.in)
	}
	nan, _, err := ReadFloat([]byte{0xf9, 0x7e, 0x00})
	require.NoError(t, err)
	require.True(t, math.IsNaN(nan))
	_, _, err = ReadFloat(AppendText(nil, "1"))
	require.ErrorIs(t, err, ErrMalformed)
}

func TestSkip(t *testing.T) {
	lib := func(v any) []byte {
		b, err := cbor.Marshal(v)
		require.NoError(t, err)
		return b
	}
	for _, v := range []any{
		1, -1, "text", []byte("bytes"), 1.5, float32(2.5), true, nil,
		[]any{1, []any{2, map[string]any{"a": []byte{1}}}},
		map[string]any{"k": map[string]any{"n": []int{1, 2, 3}}},
		cbor.Tag{Number: 1234, Content: []any{"x"}},
	} {
		b := append(lib(v), 0xf6)
		rest, err := Skip(b)
		require.NoError(t, err, "%v", v)
		require.Equal(t, []byte{0xf6}, rest, "%v", v)
	}
	for _, bad := range [][]byte{
		{}, {0x9f, 0xff}, {0x82, 0x01}, {0x5a, 0xff, 0xff, 0xff, 0xff}, {0xbb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, {0x1c}, {0xc1},
	} {
		_, err := Skip(bad)
		require.ErrorIs(t, err, ErrMalformed, "%x", bad)
	}
}

func TestBytesAndText(t *testing.T) {
	b := AppendBytes(nil, []byte("abc"))
	got, _, err := ReadBytes(b)
	require.NoError(t, err)
	b[1] = 'X'
	require.Equal(t, []byte("abc"), got, "a copy, not a view of the input")
	got, rest, err := ReadBytes(AppendBytes(nil, nil))
	require.NoError(t, err)
	require.Nil(t, got)
	require.Empty(t, rest)

	s, _, err := ReadString(AppendText(nil, "héllo"))
	require.NoError(t, err)
	require.Equal(t, "héllo", s)
	_, _, err = ReadString(AppendText(nil, "\xff"))
	require.ErrorContains(t, err, "UTF-8")
}

func TestErrorReply(t *testing.T) {
	for _, e := range []Error{{Message: "boom"}, {Code: CodeUnknownType, Message: "no handler"}} {
		data := Marshal(e)
		tag, body, ok := Split(data)
		require.True(t, ok)
		require.Equal(t, ErrorType, tag)
		var back Error
		require.NoError(t, Unmarshal(body, &back))
		require.Equal(t, e, back)
		var m map[string]any
		require.NoError(t, cbor.Unmarshal(body, &m))
		require.Equal(t, e.Message, m["error"])
	}
	require.ErrorIs(t, &Error{Code: CodeNotAsk}, ErrNotAsk)
	require.ErrorIs(t, &Error{Code: CodeMalformed}, ErrMalformed)
	require.NotErrorIs(t, &Error{Message: "x"}, ErrUnknownType)
	require.ErrorContains(t, Unmarshal(append(Marshal(Error{Message: "x"}), 0), new(Error)), "bytes after")
}

// FuzzSkipAndError: Skip and the Error reader never panic on any input,
// and agree with fxamacker/cbor on where a well-formed item ends.
func FuzzSkipAndError(f *testing.F) {
	f.Add(Marshal(Error{Code: CodeMalformed, Message: "x"}))
	f.Add([]byte{0x82, 0xa1, 0x61, 'k', 0xc1, 0x01, 0xf9, 0x3c, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		rest, err := Skip(data)
		if err == nil {
			require.LessOrEqual(t, len(rest), len(data)-1)
			var v any
			if libRest, libErr := cbor.UnmarshalFirst(data, &v); libErr == nil {
				require.Equal(t, len(libRest), len(rest))
			}
		}
		var e Error
		_, _ = e.ReadCBOR(data)
		_, _, _ = Split(data)
	})
}
