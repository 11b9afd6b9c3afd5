package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/wasmactor/wasmactor/client"
)

// undrainCmd is the way back from a drain: the node takes placed spawns
// again. drain --cancel says the same.
func (a *app) undrainCmd() *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "undrain NODE",
		Short: "Put a drained node back into placement",
		Long: `Let spawns that name no node land on NODE again, after 'wasmactor drain'
(which keeps it out of placement for as long as it runs). NODE tells every
member. No actor moves back. Undraining a node that does not drain does
nothing. Needs the admin role, as a drain.`,
		Example: `  wasmactor undrain n3`,
		Args:    exactArgs(1, "one NODE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.undrain(cmd.Context(), args[0], timeout)
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "how long to wait")
	return cmd
}

func (a *app) undrain(ctx context.Context, node string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := a.request(ctx, func(c *client.Client) error { return c.Undrain(ctx, node) }); err != nil {
		return fmt.Errorf("undrain %s: %w", node, err)
	}
	fmt.Fprintf(a.stdout, "undrained %s: it takes placed spawns again\n", node)
	return nil
}
