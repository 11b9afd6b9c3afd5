package host

import (
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// A refusal's label is the name of the Limits field that refused it, in
// snake case (the CLI's --limit names are the same), or of a Config field
// Max... without the Max.
func TestLimitLabelsNameFields(t *testing.T) {
	fields := map[string]bool{} // lower case, no underscores
	lt := reflect.TypeFor[Limits]()
	for i := range lt.NumField() {
		fields[strings.ToLower(lt.Field(i).Name)] = true
	}
	ct := reflect.TypeFor[Config]()
	for i := range ct.NumField() {
		if name, ok := strings.CutPrefix(ct.Field(i).Name, "Max"); ok {
			fields[strings.ToLower(name)] = true
		}
	}
	for k, label := range limitLabels {
		require.Equal(t, strings.ToLower(label), label, "limit %d", k)
		require.True(t, fields[strings.ReplaceAll(label, "_", "")], "limit %d's label %q names no field", k, label)
	}
}
