package engine

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseFactories(t *testing.T) {
	long := strings.Repeat("a", MaxFactoryBytes)
	var many string
	for i := range MaxFactories {
		many += fmt.Sprintf("F%d\n", i)
	}
	ok := map[string][]string{
		"Echo":              {"Echo"},
		"Echo\n":            {"Echo"},
		"A\nb-1\nc_2.3":     {"A", "b-1", "c_2.3"},
		long:                {long},
		"Counter\nCounter2": {"Counter", "Counter2"},
	}
	for in, want := range ok {
		got, err := ParseFactories([]byte(in))
		require.NoError(t, err, "%q", in)
		require.Equal(t, want, got)
	}
	got, err := ParseFactories([]byte(many))
	require.NoError(t, err)
	require.Len(t, got, MaxFactories)

	bad := map[string]string{
		"":         "no factories",
		"\n":       "no factories",
		"A\n\n":    "factory 2: empty factory name",
		"\nA":      "factory 1: empty factory name",
		"A\nA":     `"A" listed twice`,
		"not ok":   "outside [A-Za-z0-9_.-]",
		"Echo@1":   "outside",
		"é":        "outside",
		long + "a": "more than 128",
		many + "Z": "more than 256",
		"A\r\nB":   "outside",
		"A\x00":    "(0x00)",
	}
	for in, msg := range bad {
		_, err := ParseFactories([]byte(in))
		require.ErrorContains(t, err, msg, "%q", in)
	}
}

func TestValidFactoryRef(t *testing.T) {
	for ref, want := range map[string]bool{
		"Counter":                      true,
		"Counter@0a1B":                 true,
		"Counter@":                     false,
		"@abc":                         false,
		"Counter@xyz":                  false,
		"Counter@1@2":                  false,
		"bad name":                     false,
		"C@" + strings.Repeat("a", 65): false,
	} {
		require.Equal(t, want, validFactoryRef(ref), ref)
	}
}

// FuzzParseFactories: never panics; every accepted list obeys abi.md, and
// joining it back parses to the same names.
func FuzzParseFactories(f *testing.F) {
	for _, s := range []string{"Echo", "A\nB\n", "", "\n\n", "x y", "A\nA", strings.Repeat("a", 129)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		names, err := ParseFactories(in)
		if err != nil {
			return
		}
		require.NotEmpty(t, names)
		require.LessOrEqual(t, len(names), MaxFactories)
		seen := map[string]bool{}
		for _, n := range names {
			require.NoError(t, ValidFactoryName(n))
			require.False(t, seen[n])
			seen[n] = true
		}
		again, err := ParseFactories([]byte(strings.Join(names, "\n")))
		require.NoError(t, err)
		require.Equal(t, names, again)
	})
}
