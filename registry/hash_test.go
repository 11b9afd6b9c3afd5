package registry

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/cbormode"
)

func TestHash(t *testing.T) {
	h := HashOf([]byte("abc"))
	const want = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	require.Equal(t, want, h.String())
	require.Equal(t, want[:12], h.Short())
	require.False(t, h.IsZero())
	require.True(t, Hash{}.IsZero())

	got, err := ParseHash(want)
	require.NoError(t, err)
	require.Equal(t, h, got)
	got, err = ParseHash(strings.ToUpper(want))
	require.NoError(t, err)
	require.Equal(t, h, got)

	for _, bad := range []string{"", "abc", want[:63], want + "0", "zz" + want[2:], strings.Repeat("x", 1000)} {
		_, err := ParseHash(bad)
		require.ErrorIs(t, err, wasmactor.ErrBadArgument, "%q", bad)
		require.Less(t, len(err.Error()), 300, "error text stays short")
	}
}

func TestHashJSON(t *testing.T) {
	info := ModuleInfo{Hash: HashOf([]byte("x")), Size: 1, Factories: []string{"A"}, DeployedAt: 7}
	b, err := json.Marshal(info)
	require.NoError(t, err)
	require.JSONEq(t, `{"hash":"`+info.Hash.String()+`","size":1,"factories":["A"],"deployed_at":7}`, string(b))
	var back ModuleInfo
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, info, back)
	require.Error(t, json.Unmarshal([]byte(`{"hash":"nothex"}`), &back))
}

func TestHashCBOR(t *testing.T) {
	h := HashOf([]byte("x"))
	b, err := cbormode.Deterministic().Marshal(h)
	require.NoError(t, err)
	require.Equal(t, byte(0x58), b[0], "a byte string with a 1-byte length")
	require.Equal(t, byte(32), b[1])
	var back Hash
	require.NoError(t, cbormode.Strict().Unmarshal(b, &back))
	require.Equal(t, h, back)

	short, err := cbormode.Deterministic().Marshal(h[:31])
	require.NoError(t, err)
	require.ErrorContains(t, cbormode.Strict().Unmarshal(short, &back), "31 bytes, want 32")
	str, err := cbormode.Deterministic().Marshal(h.String())
	require.NoError(t, err)
	require.Error(t, cbormode.Strict().Unmarshal(str, &back), "a text string is not a hash")
}
