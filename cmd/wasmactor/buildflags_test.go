package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"
)

// build's -o is the report format for text and json, the output file for
// anything else; --out is always the file.
func TestBuildOutputFlags(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		wantFile string
		wantJSON bool
	}{
		{nil, "", false},
		{[]string{"-o", "counter.wasm"}, "counter.wasm", false},
		{[]string{"-o", "json"}, "", true},
		{[]string{"-o", "x.wasm", "-o", "json"}, "x.wasm", true},
		{[]string{"-ojson", "--out", "json"}, "json", true},
		{[]string{"--json", "-o", "text"}, "", false},
		{[]string{"--output=dir/y.wasm"}, "dir/y.wasm", false},
	} {
		var file string
		var asJSON bool
		cmd := &cobra.Command{Use: "build", RunE: func(*cobra.Command, []string) error { return nil }}
		addBuildOutputFlags(cmd, &file, &asJSON)
		cmd.SetArgs(tc.args)
		require.NoError(t, cmd.Execute(), "%v", tc.args)
		require.Equal(t, tc.wantFile, file, "%v", tc.args)
		require.Equal(t, tc.wantJSON, asJSON, "%v", tc.args)
	}
	var file string
	var asJSON bool
	cmd := &cobra.Command{Use: "build", RunE: func(*cobra.Command, []string) error { return nil }}
	addBuildOutputFlags(cmd, &file, &asJSON)
	cmd.SetArgs([]string{"-o", ""})
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	require.Error(t, cmd.Execute())
}

func TestBuildJSONWithDashO(t *testing.T) {
	needGo(t)
	out := filepath.Join(t.TempDir(), "counter.wasm")
	f := newFake(t)
	r := f.run(t, "build", "../../examples/counter", "-o", out, "-o", "json")
	require.Equal(t, 0, r.code, r.stderr)
	var rep buildJSON
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep))
	require.Equal(t, out, rep.File)
	require.Equal(t, []string{"Counter"}, rep.Factories)
	_, err := os.Stat(out)
	require.NoError(t, err)
}
