package typedgen

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor/guest-sdk/typed"
)

func genSrc(t *testing.T, src string) (*Result, error) {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "p.go"), []byte("package p\n\n"+src), 0o644))
	return Generate(dir)
}

func TestGenerateDeclarations(t *testing.T) {
	res, err := genSrc(t, `
// A is a message.
//
//wasmactor:message name=p.A reply=B
type A struct{ X int }

//wasmactor:message
type B struct{}

type notMessage struct{ Y chan int }
`)
	require.NoError(t, err)
	require.Equal(t, "p", res.Package)
	require.Equal(t, []Type{
		{GoName: "A", Name: "p.A", Tag: typed.ID("p.A"), Reply: "B"},
		{GoName: "B", Name: "B", Tag: typed.ID("B")},
	}, res.Types)
	require.Contains(t, string(res.Source), "func (A) ReplyType() (r B) { return }")
	require.Contains(t, string(res.Source), Header)
}

func TestGenerateRefusesWhatItCannotEncode(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"//wasmactor:message\ntype A struct{ C chan int }", "field C: type chan int is not supported"},
		{"//wasmactor:message\ntype A struct{ C [4]byte }", "arrays are not supported"},
		{"//wasmactor:message\ntype A struct{ M map[int]string }", "map keys must be string"},
		{"type S struct{}\n//wasmactor:message\ntype A struct{ S S }", "struct type S is not marked //wasmactor:message"},
		{"//wasmactor:message\ntype A struct{ S Unknown }", "type Unknown is not declared in package p"},
		{"//wasmactor:message\ntype A struct{ B }\ntype B int", "embedded fields are not supported"},
		{"//wasmactor:message\ntype A struct{ X int `cbor:\"k\"`; Y int `cbor:\"k\"` }", `fields X and Y have the same key "k"`},
		{"//wasmactor:message\ntype A struct{ X int `cbor:\"k,toarray\"` }", `tag option "toarray" is not supported`},
		{"//wasmactor:message size=3\ntype A struct{}", `bad option "size=3"`},
		{"//wasmactor:message reply=Nope\ntype A struct{}", "reply=Nope is not a //wasmactor:message type"},
		{"//wasmactor:message\ntype A int", "a message must be a struct type"},
		{"//wasmactor:message name=X\ntype A struct{}\n//wasmactor:message name=X\ntype B struct{}", `same wire name "X"`},
		{"//wasmactor:message\ntype A struct{ T x.T }", "package x of type x.T is not imported"},
		{"type A struct{}", "no type is marked"},
	} {
		_, err := genSrc(t, tc.src)
		require.ErrorContains(t, err, tc.want, tc.src)
	}
}

func TestGenerateImportsOnlyWhatItUses(t *testing.T) {
	res, err := genSrc(t, `import (
	"example.com/pid"
	q "example.com/other/v2"
)

//wasmactor:message
type A struct {
	One  pid.PID
	Many []q.Thing
}
`)
	require.NoError(t, err)
	src := string(res.Source)
	require.NotContains(t, src, `"example.com/pid"`, "only methods of pid.PID are called")
	require.Contains(t, src, `q "example.com/other/v2"`)
	require.Equal(t, "cbor", defaultName("github.com/fxamacker/cbor/v2"))
	require.Equal(t, "v2", defaultName("v2"))
}
