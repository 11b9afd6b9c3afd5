package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wasmactor/wasmactor/client"
	"github.com/wasmactor/wasmactor/registry"
)

// Groups, a send to a group, and `nodes --watch`.

type groupJSON struct {
	Group   string    `json:"group"`
	Members []pidJSON `json:"members"`
}

func (a *app) groupsCmd() *cobra.Command {
	var out format
	cmd := &cobra.Command{
		Use:   "groups [GROUP]",
		Short: "List the process groups of the cluster, or one group's members",
		Long: `List the process groups that have members, with their members on every node,
as the node the CLI is connected to knows them. With GROUP, list only that
group (empty if nobody is in it). Actors join groups themselves
(ctx.JoinGroup) or from Go (Node.JoinGroup); send to a group with
'wasmactor send --group'.`,
		Example: `  wasmactor groups
  wasmactor groups counters
  wasmactor groups -o json | jq -r '.[] | .group'`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var groups []client.Group
			var err error
			if len(args) == 1 {
				if err := registry.ValidateName(args[0]); err != nil {
					return fail(exitUsage, err, "%v", oneLineBare(err))
				}
				err = a.request(cmd.Context(), func(c *client.Client) error {
					ms, err := c.GroupMembers(cmd.Context(), args[0])
					if len(ms) > 0 {
						groups = []client.Group{{Name: args[0], Members: ms}}
					}
					return err
				})
			} else {
				err = a.request(cmd.Context(), func(c *client.Client) (err error) {
					groups, err = c.Groups(cmd.Context())
					return err
				})
			}
			if err != nil {
				return fmt.Errorf("groups: %w", err)
			}
			if out == formatJSON {
				js := make([]groupJSON, 0, len(groups))
				for _, g := range groups {
					ms := make([]pidJSON, 0, len(g.Members))
					for _, p := range g.Members {
						ms = append(ms, pidOut(p))
					}
					js = append(js, groupJSON{Group: g.Name, Members: ms})
				}
				return writeJSON(a.stdout, js)
			}
			rows := make([][]string, 0, len(groups))
			for _, g := range groups {
				pids := make([]string, 0, len(g.Members))
				for _, p := range g.Members {
					pids = append(pids, p.String())
				}
				rows = append(rows, []string{g.Name, fmt.Sprint(len(g.Members)), strings.Join(pids, ",")})
			}
			return table(a.stdout, []string{"GROUP", "SIZE", "MEMBERS"}, rows)
		},
	}
	addFormatFlag(cmd, &out)
	return cmd
}

type refusalJSON struct {
	pidJSON
	Error string `json:"error"`
}

type groupSendJSON struct {
	Group    string        `json:"group"`
	Members  int           `json:"members"`
	Sent     int           `json:"sent"`
	Refused  int           `json:"refused"`
	Refusals []refusalJSON `json:"refusals"`
}

// sendGroup is `send --group`: it reports who got the message, and fails
// (exit 6, after the report) if anyone refused it.
func (a *app) sendGroup(cmd *cobra.Command, group, msg, typeName string, out format) error {
	if err := registry.ValidateName(group); err != nil {
		return fail(exitUsage, err, "%v", oneLineBare(err))
	}
	payload, err := JSONToCBOR("message", []byte(msg))
	if err != nil {
		return err
	}
	if typeName != "" {
		payload = typedPayload(typeName, payload)
	}
	var r client.GroupSendResult
	if err := a.request(cmd.Context(), func(c *client.Client) (err error) {
		r, err = c.SendGroup(cmd.Context(), group, client.CBOR(payload))
		return err
	}); err != nil {
		return fmt.Errorf("send to group %s: %w", group, err)
	}
	if out == formatJSON {
		js := groupSendJSON{Group: group, Members: r.Members, Sent: r.Sent, Refused: r.Refused, Refusals: []refusalJSON{}}
		for _, x := range r.Refusals {
			js.Refusals = append(js.Refusals, refusalJSON{pidJSON: pidOut(x.PID), Error: oneLine(x.Err.Error())})
		}
		if err := writeJSON(a.stdout, js); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(a.stdout, "sent to %d of %d members of %s\n", r.Sent, r.Members, group)
		for _, x := range r.Refusals {
			fmt.Fprintf(a.stdout, "refused by %s: %s\n", x.PID, oneLineBare(x.Err))
		}
		if more := r.Refused - len(r.Refusals); more > 0 {
			fmt.Fprintf(a.stdout, "refused by %d more\n", more)
		}
	}
	if r.Refused > 0 {
		return fail(exitRejected, nil, "send to group %s: %d of %d members refused the message", group, r.Refused, r.Members)
	}
	return nil
}

// watchPoll is how long one long poll of `nodes --watch` waits for an
// event, and watchGrace how much longer the request may take.
const (
	watchPoll  = 25 * time.Second
	watchGrace = 15 * time.Second
)

type nodeEventJSON struct {
	Seq         uint64 `json:"seq"`
	At          string `json:"at"`
	Node        string `json:"node"`
	Incarnation string `json:"incarnation"`
	Addr        string `json:"addr,omitempty"`
	Up          bool   `json:"up"`
	Reason      string `json:"reason"`
}

// watchNodes is `nodes --watch`: the listing, then every event after it,
// by long polls of the node (client.NodeEvents). With -o json it prints
// JSON Lines: the listing as `nodes -o json` prints it, then one object per
// event. Members that did not answer the listing are named on stderr and
// the watch goes on.
func (a *app) watchNodes(cmd *cobra.Command, out format) error {
	ctx := cmd.Context()
	var cursor uint64
	var nodes []client.NodeStatus
	var missing *client.PartialError
	// The cursor first: an event between it and the listing is printed
	// after the listing, never lost.
	if err := a.request(ctx, func(c *client.Client) error {
		page, err := c.NodeEvents(ctx, 0, 0)
		if err != nil {
			return err
		}
		cursor = page.Next
		nodes, err = c.Nodes(ctx)
		if errors.As(err, &missing) {
			return nil // named after the listing
		}
		return err
	}); err != nil {
		return fmt.Errorf("nodes --watch: %w", err)
	}
	if out == formatJSON {
		b, err := json.Marshal(nodesListJSON{Nodes: nodesJSON(nodes), Errors: errorsOut(missing)})
		if err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "%s\n", b)
	} else if err := nodesTable(a.stdout, nodes); err != nil {
		return err
	}
	var pe *partialError
	if errors.As(listingErrors(missing), &pe) {
		for _, l := range pe.lines {
			fmt.Fprintln(a.stderr, l)
		}
	}
	for {
		var page client.NodeEventsPage
		err := a.request(ctx, func(c *client.Client) error {
			pctx, cancel := context.WithTimeout(ctx, watchPoll+watchGrace)
			defer cancel()
			var err error
			page, err = c.NodeEvents(pctx, cursor, watchPoll)
			return err
		})
		if ctx.Err() != nil {
			return nil // interrupted: the normal end of a watch
		}
		if err != nil {
			var ee *exitError
			if errors.As(err, &ee) && ee.code == exitTimeout {
				err = fail(exitUnreachable, err, "node at %s stopped answering", a.nodeAddr)
			}
			return fmt.Errorf("nodes --watch: %w", err)
		}
		if page.Missed > 0 {
			if out == formatJSON {
				fmt.Fprintf(a.stdout, "{\"missed\":%d}\n", page.Missed)
			} else {
				fmt.Fprintf(a.stdout, "(%d events missed: run 'wasmactor nodes' for the current state)\n", page.Missed)
			}
		}
		for _, ev := range page.Events {
			at := ev.At.UTC().Format(time.RFC3339Nano)
			if out == formatJSON {
				b, err := json.Marshal(nodeEventJSON{Seq: ev.Seq, At: at, Node: ev.Node, Incarnation: incarnation(ev.Incarnation),
					Addr: ev.Addr, Up: ev.Up, Reason: ev.Reason})
				if err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "%s\n", b)
				continue
			}
			status := "down"
			if ev.Up {
				status = "up"
			}
			fmt.Fprintf(a.stdout, "%s  %s  %s  %s  %s\n", ev.At.Local().Format("15:04:05.000"), ev.Node, status, ev.Reason, incarnation(ev.Incarnation))
		}
		cursor = page.Next
	}
}
