package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wasmactor/wasmactor/guest-sdk/typed"
	"github.com/wasmactor/wasmactor/internal/atomicfile"
	"github.com/wasmactor/wasmactor/internal/typedgen"
)

type genTypeJSON struct {
	Type  string `json:"type"`
	Name  string `json:"name"`
	Tag   string `json:"tag"`
	Reply string `json:"reply,omitempty"`
}

type genJSON struct {
	File    string        `json:"file"`
	Package string        `json:"package"`
	Changed bool          `json:"changed"`
	Types   []genTypeJSON `json:"types"`
}

func (a *app) genCmd() *cobra.Command {
	var (
		out     format
		outFile string
		check   bool
	)
	cmd := &cobra.Command{
		Use:   "gen [PKG_DIR]",
		Short: "Write the CBOR codecs of a package's typed messages",
		Long: `Read the Go package in PKG_DIR (default ".") and write the codecs of its
message types, the struct types whose doc comment holds the directive

  //wasmactor:message [name=NAME] [reply=TYPE]

to ` + typedgen.DefaultOutput + ` in PKG_DIR (--out FILE elsewhere). The generated code
reads and writes each type without reflection and imports only the guest
SDK's typed package, so the package compiles into guests. name is the type's
name on the wire (default: the Go name; the CLI's --type takes it), reply
the type an ask of it is answered with. With --check nothing is written: the
command fails (exit 1) if the file is missing or stale, for CI.

From go generate:

  //go:generate go run github.com/wasmactor/wasmactor/cmd/wasmactor gen`,
		Example: `  wasmactor gen ./examples/bank/bankproto
  wasmactor gen --check ./examples/bank/bankproto`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageErrorf("gen takes at most one PKG_DIR, got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			res, err := typedgen.Generate(dir)
			if err != nil {
				if errors.Is(err, os.ErrNotExist) {
					return fail(exitUsage, err, "gen: %v", err)
				}
				return fail(exitFailure, err, "gen %s: %s", dir, oneLineBare(err))
			}
			file := outFile
			if file == "" {
				file = filepath.Join(dir, typedgen.DefaultOutput)
			}
			old, _ := os.ReadFile(file)
			changed := !bytes.Equal(old, res.Source)
			if check {
				if changed {
					return fail(exitFailure, nil, "gen --check: %s is not up to date; run 'wasmactor gen %s'", file, dir)
				}
			} else if changed {
				if err := atomicfile.Write(file, res.Source, 0o644); err != nil {
					return fmt.Errorf("gen: %w", err)
				}
			}
			if out == formatJSON {
				js := genJSON{File: file, Package: res.Package, Changed: changed}
				for _, t := range res.Types {
					js.Types = append(js.Types, genTypeJSON{Type: t.GoName, Name: t.Name, Tag: typed.Hex(t.Tag), Reply: t.Reply})
				}
				return writeJSON(a.stdout, js)
			}
			verb := "wrote"
			if !changed {
				verb = "unchanged"
			}
			names := make([]string, 0, len(res.Types))
			for _, t := range res.Types {
				n := t.Name
				if t.Reply != "" {
					n += " → " + t.Reply
				}
				names = append(names, n)
			}
			fmt.Fprintf(a.stdout, "%s %s: %s\n", verb, file, strings.Join(names, ", "))
			return nil
		},
	}
	cmd.Flags().StringVar(&outFile, "out", "", "file to write (default PKG_DIR/"+typedgen.DefaultOutput+")")
	cmd.Flags().BoolVar(&check, "check", false, "write nothing; fail if the file is missing or stale")
	addFormatFlag(cmd, &out)
	return cmd
}
