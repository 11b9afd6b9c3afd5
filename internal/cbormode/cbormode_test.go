package cbormode

import (
	"bytes"
	"math/big"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/stretchr/testify/require"
)

// arrayOf returns a definite array of n zeros.
func arrayOf(n uint64) []byte {
	b := []byte{0x9a, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
	return append(b, make([]byte, n)...)
}

// nested returns n arrays, each holding the next, around a zero.
func nested(n int) []byte { return append(bytes.Repeat([]byte{0x81}, n), 0x00) }

func TestStrictRejects(t *testing.T) {
	n := MaxMapPairs + 1
	pairs := []byte{0xb9, byte(n >> 8), byte(n)}
	for i := 0; i < n; i++ {
		pairs = append(pairs, 0x19, byte(i>>8), byte(i), 0x00)
	}
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"indefinite array", []byte{0x9f, 0x01, 0xff}, "indefinite-length"},
		{"duplicate key", []byte{0xa2, 0x01, 0x00, 0x01, 0x00}, "duplicate map key"},
		{"tag", []byte{0xc1, 0x00}, "tag"},
		{"invalid UTF-8", []byte{0x62, 0xff, 0xfe}, "invalid UTF-8"},
		{"trailing data", []byte{0x00, 0x00}, "extraneous data"},
		{"array over the cap", arrayOf(MaxArrayElements + 1), "exceeded max number of elements"},
		{"map over the cap", pairs, "exceeded max number of key-value pairs"},
		{"too deep", nested(MaxNestedLevels + 1), "exceeded max nested level"},
		{"huge declared length", []byte{0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, "too large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v any
			require.ErrorContains(t, Strict().Unmarshal(tc.in, &v), tc.want)
		})
	}
}

// The limits fit the largest legitimate bodies: a listing of 2^20 entries
// and 16 levels of nesting decode.
func TestStrictAcceptsAtTheLimits(t *testing.T) {
	var long []uint8
	require.NoError(t, Strict().Unmarshal(arrayOf(MaxArrayElements), &long))
	require.Len(t, long, MaxArrayElements)
	var v any
	require.NoError(t, Strict().Unmarshal(nested(MaxNestedLevels), &v))
}

// What the cluster writes, it can read back.
func TestDeterministicRoundTripsThroughStrict(t *testing.T) {
	type body struct {
		A uint64            `cbor:"1,keyasint"`
		B []string          `cbor:"2,keyasint"`
		C map[string][]byte `cbor:"3,keyasint"`
	}
	in := body{A: 7, B: []string{"x", "é"}, C: map[string][]byte{"b": {1}, "a": nil}}
	b, err := Deterministic().Marshal(in)
	require.NoError(t, err)
	again, err := Deterministic().Marshal(in)
	require.NoError(t, err)
	require.Equal(t, b, again)
	var out body
	require.NoError(t, Strict().Unmarshal(b, &out))
	require.Equal(t, in, out)

	_, err = Deterministic().Marshal(cbor.Tag{Number: 42, Content: 1})
	require.ErrorContains(t, err, "TagsForbidden", "tags are refused on the way out too")
	huge, err := Deterministic().Marshal(new(big.Int).Lsh(big.NewInt(1), 64))
	require.NoError(t, err)
	require.Equal(t, byte(0xc2), huge[0], "a bignum is still a tag, as documented")
}
