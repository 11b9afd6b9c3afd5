package registry

import (
	"fmt"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor"
)

func testInfo(wasm []byte, at int64, factories ...string) ModuleInfo {
	return ModuleInfo{Hash: HashOf(wasm), Size: int64(len(wasm)), Factories: factories, DeployedAt: at}
}

func TestValidate(t *testing.T) {
	ok := testInfo([]byte("m"), 1, "Counter", "a.b-c_9")
	tests := []struct {
		name string
		edit func(*ModuleInfo)
		want string // "" = valid
	}{
		{"valid", func(*ModuleInfo) {}, ""},
		{"no factories", func(m *ModuleInfo) { m.Factories = nil }, ""},
		{"zero hash", func(m *ModuleInfo) { m.Hash = Hash{} }, "no hash"},
		{"negative size", func(m *ModuleInfo) { m.Size = -1 }, "negative size"},
		{"empty factory", func(m *ModuleInfo) { m.Factories = []string{""} }, "empty factory name"},
		{"space in factory", func(m *ModuleInfo) { m.Factories = []string{"Count er"} }, `has ' ' at byte 5`},
		{"long factory", func(m *ModuleInfo) { m.Factories = []string{strings.Repeat("a", 129)} }, "129 bytes, at most 128"},
		{"duplicate", func(m *ModuleInfo) { m.Factories = []string{"A", "A"} }, "twice"},
		{"too many", func(m *ModuleInfo) { m.Factories = manyFactories(maxFactories + 1) }, "257 factories"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := ok
			tt.edit(&m)
			err := m.Validate()
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, wasmactor.ErrBadArgument)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func manyFactories(n int) []string {
	fs := make([]string, n)
	for i := range fs {
		fs[i] = fmt.Sprintf("F%d", i)
	}
	return fs
}

func TestModuleInfoCodec(t *testing.T) {
	info := testInfo([]byte("mod"), 42, "B", "A")
	b, err := EncodeModuleInfo(info)
	require.NoError(t, err)
	back, err := DecodeModuleInfo(b)
	require.NoError(t, err)
	require.Equal(t, []string{"A", "B"}, back.Factories, "decoded infos are normalized")
	back.Factories = info.Factories
	require.Equal(t, info, back)

	encode := func(v any) []byte {
		b, err := cbor.Marshal(v)
		require.NoError(t, err)
		return b
	}
	h := info.Hash[:]
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "EOF"},
		{"trailing bytes", append(b, 0x00), "extraneous data"},
		{"not a map", encode([]int{1, 2}), "cannot unmarshal"},
		{"duplicate key", []byte{0xa2, 0x02, 0x01, 0x02, 0x01}, "duplicate map key"},
		{"indefinite map", []byte{0xbf, 0x02, 0x01, 0xff}, "indefinite-length"},
		{"tag", []byte{0xc1, 0x00}, "tag"},
		{"short hash", encode(map[int]any{1: h[:10], 2: 3}), "10 bytes, want 32"},
		{"invalid factory", encode(map[int]any{1: h, 2: 3, 3: []string{"a b"}}), "factory name"},
		{"zero hash", encode(map[int]any{2: 3}), "no hash"},
		{"bad utf8", encode(map[int]any{1: h, 3: []any{cbor.RawMessage{0x61, 0xff}}}), "invalid UTF-8"},
		{"huge array", []byte{0xa1, 0x03, 0x9a, 0x7f, 0xff, 0xff, 0xff}, "exceeded max number of elements"},
		{"too many factories", encode(map[int]any{1: h, 2: 3, 3: manyFactories(maxFactories + 1)}), "257 factories"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeModuleInfo(tt.in)
			require.ErrorIs(t, err, wasmactor.ErrBadArgument)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

// FuzzDecodeModuleInfo feeds arbitrary bytes to the decoder of the DirStore's
// meta files: it must never panic, and whatever it accepts must be valid and
// survive a round trip.
func FuzzDecodeModuleInfo(f *testing.F) {
	good, err := EncodeModuleInfo(testInfo([]byte("mod"), 42, "A", "B"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte{0xa1, 0x03, 0x9a, 0x7f, 0xff, 0xff, 0xff})
	f.Add([]byte{0xbf, 0x02, 0x01, 0xff})
	f.Add(good[:len(good)/2])
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeModuleInfo(b)
		if err != nil {
			return
		}
		require.NoError(t, m.Validate())
		again, err := EncodeModuleInfo(m)
		require.NoError(t, err)
		m2, err := DecodeModuleInfo(again)
		require.NoError(t, err)
		require.Equal(t, m, m2)
	})
}
