package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// build's flags reconcile two parts of the CLI contract: `-o json` on every
// command that prints, and `build [PKG_DIR] [-o out.wasm]` as in go build.
// -o's value decides: text and json choose the report's format, anything
// else names the output file. --out always names the file (for a file
// called "json", say), and --json is -o json. docs/RATIONALE.md says why.
func addBuildOutputFlags(cmd *cobra.Command, file *string, asJSON *bool) {
	f := cmd.Flags()
	f.StringVar(file, "out", "", "output file (default PKG_DIR's base name + .wasm)")
	f.VarP(buildOutput{file: file, asJSON: asJSON}, "output", "o", "report format, text or json; any other value names the output file (as --out)")
	f.BoolVar(asJSON, "json", false, "print the report as JSON (same as -o json)")
}

// buildOutput is build's -o.
type buildOutput struct {
	file   *string
	asJSON *bool
}

func (o buildOutput) String() string {
	if o.asJSON != nil && *o.asJSON {
		return string(formatJSON)
	}
	return string(formatText)
}

func (o buildOutput) Type() string { return "text|json|FILE" }

func (o buildOutput) Set(s string) error {
	switch format(s) {
	case formatJSON:
		*o.asJSON = true
	case formatText:
		*o.asJSON = false
	case "":
		return errors.New("-o needs text, json or an output file")
	default:
		*o.file = s
	}
	return nil
}
