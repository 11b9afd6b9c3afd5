package host

import (
	"reflect"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/require"
)

// A refusal's label is the name of the Limits field that refused it, in
// snake case (the CLI's --limit names are the same).
func TestLimitLabelsNameFields(t *testing.T) {
	fields := map[string]bool{}
	lt := reflect.TypeFor[Limits]()
	for i := range lt.NumField() {
		var b strings.Builder
		for j, r := range lt.Field(i).Name {
			if unicode.IsUpper(r) {
				if j > 0 {
					b.WriteByte('_')
				}
				r = unicode.ToLower(r)
			}
			b.WriteRune(r)
		}
		fields[b.String()] = true
	}
	for k, label := range limitLabels {
		require.True(t, fields[label], "limit %d's label %q names no field of Limits", k, label)
	}
}
