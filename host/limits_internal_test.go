package host

import (
	"reflect"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/require"
)

// A refusal's label is the name of the Limits field that refused it, in
// snake case (the CLI's --limit names are the same), or of a Config field
// Max... without the Max.
func TestLimitLabelsNameFields(t *testing.T) {
	fields := map[string]bool{}
	snake := func(name string) string {
		var b strings.Builder
		for j, r := range name {
			if unicode.IsUpper(r) {
				if j > 0 {
					b.WriteByte('_')
				}
				r = unicode.ToLower(r)
			}
			b.WriteRune(r)
		}
		return b.String()
	}
	lt := reflect.TypeFor[Limits]()
	for i := range lt.NumField() {
		fields[snake(lt.Field(i).Name)] = true
	}
	ct := reflect.TypeFor[Config]()
	for i := range ct.NumField() {
		if name, ok := strings.CutPrefix(ct.Field(i).Name, "Max"); ok {
			fields[snake(name)] = true
		}
	}
	for k, label := range limitLabels {
		require.True(t, fields[label], "limit %d's label %q names no field of Limits", k, label)
	}
}
