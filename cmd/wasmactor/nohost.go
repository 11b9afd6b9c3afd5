//go:build wasmactor_nohost

package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// hostCmds, in a build without the host package (tag wasmactor_nohost, for
// working on the CLI while host/ does not compile), still lists node and demo
// so help and usage stay the same, but they only explain why they cannot run.
func (a *app) hostCmds() []*cobra.Command {
	var out []*cobra.Command
	for _, name := range []string{"node", "demo"} {
		out = append(out, &cobra.Command{
			Use:                name,
			Short:              "(not in this build: built with -tags wasmactor_nohost)",
			Example:            "  go build ./cmd/wasmactor   # without the tag",
			DisableFlagParsing: true,
			RunE: func(*cobra.Command, []string) error {
				return errors.New(name + ": this binary was built with -tags wasmactor_nohost, without the node")
			},
		})
	}
	return out
}
