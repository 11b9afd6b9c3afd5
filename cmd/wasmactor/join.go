package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/wasmactor/wasmactor/client"
)

func (a *app) joinCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "join SEED...",
		Short: "Make the node (--node) join a cluster through seed addresses; prints nothing",
		Long: `Ask the node at --node to join a cluster at run time through one or more seeds:
HOST:PORT, or dns:NAME:PORT for every A and AAAA record of NAME. It returns
once a seed answered; membership then connects every member.`,
		Example: `  wasmactor join 127.0.0.1:7947
  wasmactor --node 127.0.0.1:7948 join dns:wasmactor-headless.default.svc:7946`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.request(cmd.Context(), func(c *client.Client) error { return c.Join(cmd.Context(), args...) }); err != nil {
				return fmt.Errorf("join %v: %w", args, err)
			}
			return nil
		},
	}
}
