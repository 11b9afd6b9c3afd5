//go:build !wasip1

package actor

import (
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor/internal/abi"
)

// The SDK compiles into guests, so it keeps its own copy of the ABI's
// numbers instead of importing internal/abi (DESIGN.md: the standard library
// and fxamacker/cbor only). These tests run on the host and keep the copy
// equal to the host's: codes, their names and texts, kinds, flags, levels,
// the version and the PID's shape.

func TestErrorCodesMatchTheHost(t *testing.T) {
	guest := 0
	for e := abi.Errno(0); e < 100; e++ {
		got := codeError(uint32(e))
		if e.Guest() != e {
			var unknown *unknownCodeError
			require.ErrorAs(t, got, &unknown, "the host has no code %d; neither may the SDK", e)
			continue
		}
		guest++
		if e == abi.OK {
			require.NoError(t, got)
			continue
		}
		require.Equal(t, e.Err().Error(), got.Error(), "code %d (%s): the same text on both sides", e, e)
	}
	require.Equal(t, len(codeErrors), guest, "the SDK knows every guest code")

	// Every sentinel names its code as docs/abi.md does: `// NAME (n)`.
	named := 0
	comment := regexp.MustCompile(`^([A-Z_]+) \((\d+)\)$`)
	for _, spec := range valueSpecs(t, "errors.go") {
		if spec.Comment == nil || len(spec.Values) != 1 {
			continue
		}
		m := comment.FindStringSubmatch(strings.TrimSpace(spec.Comment.Text()))
		if m == nil {
			continue
		}
		n, err := strconv.Atoi(m[2])
		require.NoError(t, err)
		require.Equal(t, abi.Errno(n).String(), m[1], "%s", spec.Names[0].Name)
		call, ok := spec.Values[0].(*ast.CallExpr)
		require.True(t, ok, "%s = errors.New(...)", spec.Names[0].Name)
		text, err := strconv.Unquote(call.Args[0].(*ast.BasicLit).Value)
		require.NoError(t, err)
		require.Equal(t, codeErrors[n].Error(), text, "%s is the sentinel of code %d", spec.Names[0].Name, n)
		named++
	}
	require.Equal(t, len(codeErrors)-1, named, "every code but OK has a commented sentinel")

	require.ErrorIs(t, codeError(uint32(abi.StaleIncarnation)), ErrStaleIncarnation)
}

func TestRecordKindsMatchTheHost(t *testing.T) {
	kinds := 0
	for _, spec := range valueSpecs(t, "record.go") {
		name := spec.Names[0].Name
		if !strings.HasPrefix(name, "kind") {
			continue
		}
		v, err := strconv.Atoi(spec.Values[0].(*ast.BasicLit).Value)
		require.NoError(t, err)
		require.Equal(t, strings.ToUpper(strings.TrimPrefix(name, "kind")), abi.Kind(v).String(), name)
		kinds++
	}
	for k := abi.Kind(1); k < 256; k++ {
		if k.String() != "UNKNOWN" {
			kinds--
		}
	}
	require.Zero(t, kinds, "the SDK knows every record kind, and no other")
	require.Equal(t, uint16(abi.KindStart), uint16(kindStart))
	require.Equal(t, uint16(abi.KindStop), uint16(kindStop))
}

func TestFlagsLevelsVersionAndPIDMatchTheHost(t *testing.T) {
	require.Equal(t, uint32(abi.SpawnLink), uint32(SpawnLink))
	require.Equal(t, uint32(abi.SpawnIsolated), uint32(SpawnIsolated))
	require.Equal(t, uint32(abi.SpawnMonitor), uint32(SpawnMonitor))
	require.Equal(t, uint32(abi.KnownSpawnFlags), uint32(SpawnLink|SpawnIsolated|SpawnMonitor), "the SDK offers every flag")
	require.Equal(t, []uint32{uint32(abi.RestartTemporary), uint32(abi.RestartTransient), uint32(abi.RestartPermanent)},
		[]uint32{uint32(Temporary), uint32(Transient), uint32(Permanent)})
	require.Equal(t, []uint8{uint8(abi.GroupJoined), uint8(abi.GroupLeft), uint8(abi.GroupOverflow)},
		[]uint8{groupJoined, groupLeft, groupOverflow})

	require.Equal(t, []uint32{uint32(abi.LogDebug), uint32(abi.LogInfo), uint32(abi.LogWarn), uint32(abi.LogError)},
		[]uint32{uint32(LevelDebug), uint32(LevelInfo), uint32(LevelWarn), uint32(LevelError)})

	require.Equal(t, abi.Version, abiVersion)

	sdk, host := reflect.TypeFor[PID](), reflect.TypeFor[abi.PID]()
	require.Equal(t, host.NumField(), sdk.NumField())
	for i := range host.NumField() {
		require.Equal(t, host.Field(i).Name, sdk.Field(i).Name)
		require.Equal(t, host.Field(i).Type, sdk.Field(i).Type)
	}
}

// valueSpecs are the const and var specs of one of the SDK's files.
func valueSpecs(t *testing.T, file string) []*ast.ValueSpec {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.ParseComments)
	require.NoError(t, err)
	var out []*ast.ValueSpec
	for _, d := range f.Decls {
		if g, ok := d.(*ast.GenDecl); ok && (g.Tok == token.CONST || g.Tok == token.VAR) {
			for _, s := range g.Specs {
				out = append(out, s.(*ast.ValueSpec))
			}
		}
	}
	require.NotEmpty(t, out, file)
	return out
}
