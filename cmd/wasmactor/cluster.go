package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/client"
	"github.com/wasmactor/wasmactor/registry"
)

// The commands that talk to a node: each is one request of package client,
// sent over the same QUIC endpoint and handshake nodes use.

// wasmMagic starts every WebAssembly binary: "\0asm", then version 1.
var wasmMagic = []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}

// checkTarget rejects text that looks like a PID but is not one before it
// reaches the node; anything else is a registered name.
func checkTarget(t string) error {
	if t == "" {
		return usageErrorf("empty target: give a PID as printed (<node.incarnation.serial>) or a registered name")
	}
	if strings.HasPrefix(t, "<") {
		if _, err := wasmactor.ParsePID(t); err != nil {
			return fail(exitUsage, err, "%v", oneLineBare(err))
		}
	}
	return nil
}

type moduleJSON struct {
	Hash       string   `json:"hash"`
	Size       int64    `json:"size"`
	Factories  []string `json:"factories"`
	DeployedAt string   `json:"deployed_at,omitempty"`
}

type moduleStatusJSON struct {
	moduleJSON
	Holders []string `json:"holders"`
	// Newest lists the factories this module is the default version of;
	// Actors counts its live actors per node.
	Newest []string       `json:"newest"`
	Actors map[string]int `json:"actors"`
}

func moduleOut(m registry.ModuleInfo) moduleJSON {
	out := moduleJSON{Hash: m.Hash.String(), Size: m.Size, Factories: nonNil(m.Factories)}
	if m.DeployedAt != 0 {
		out.DeployedAt = time.Unix(0, m.DeployedAt).UTC().Format(time.RFC3339Nano)
	}
	return out
}

// maxPipedModule is the most deploy reads from a pipe, which it must hold
// whole: the nodes' default module cap (host.Config.MaxModuleSize).
const maxPipedModule = 64 << 20

func (a *app) deployCmd() *cobra.Command {
	var out format
	cmd := &cobra.Command{
		Use:   "deploy FILE.wasm",
		Short: "Upload a module to the cluster; print its hash and factories",
		Long: `Upload a WebAssembly module to the node, which validates and compiles it,
stores it by the SHA-256 of its bytes and announces it to the cluster. Any node
can then spawn its factories; nodes that lack the module pull it once.
Deploying the same bytes again is a no-op. FILE may be a pipe (/dev/stdin,
<(curl ...)): it is then read whole first, up to 64 MiB.`,
		Example: `  wasmactor build ./examples/counter -o counter.wasm
  wasmactor deploy counter.wasm
  wasmactor deploy counter.wasm -o json | jq -r .hash`,
		Args: exactArgs(1, "one FILE.wasm"),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return fail(exitUsage, err, "deploy: %v", err)
			}
			defer f.Close()
			st, err := f.Stat()
			if err != nil {
				return fail(exitUsage, err, "deploy: %v", err)
			}
			// A regular file goes in chunks, read as they are sent: the CLI
			// never holds the module whole. Anything else (a pipe, a FIFO,
			// /dev/stdin, <(curl ...)) has no size to announce and cannot
			// be read twice: it is read whole first, up to the cap.
			var (
				src  io.Reader = f
				size           = st.Size()
				head           = make([]byte, len(wasmMagic))
			)
			if st.Mode().IsRegular() {
				k, _ := f.ReadAt(head, 0)
				head = head[:k]
			} else {
				wasm, err := io.ReadAll(io.LimitReader(f, maxPipedModule+1))
				if err != nil {
					return fail(exitUsage, err, "deploy: %v", err)
				}
				if len(wasm) > maxPipedModule {
					return fail(exitRejected, nil, "deploy: %s is over %d bytes, the most read from a pipe (the nodes' default module cap)", args[0], maxPipedModule)
				}
				src, size = bytes.NewReader(wasm), int64(len(wasm))
				head = wasm[:min(len(wasm), len(wasmMagic))]
			}
			if len(head) < len(wasmMagic) || !bytes.Equal(head[:4], wasmMagic[:4]) {
				return fail(exitRejected, nil, "deploy: %s is not a WebAssembly module (it does not start with \\0asm)", args[0])
			}
			if !bytes.Equal(head[4:8], wasmMagic[4:8]) {
				return fail(exitRejected, nil, "deploy: %s is WebAssembly binary version %x, only version 1 is supported", args[0], head[4:8])
			}
			var info registry.ModuleInfo
			if err := a.request(cmd.Context(), func(c *client.Client) (err error) {
				info, err = c.DeployFrom(cmd.Context(), src, size)
				return err
			}); err != nil {
				return fmt.Errorf("deploy %s: %w", args[0], err)
			}
			if out == formatJSON {
				return writeJSON(a.stdout, moduleOut(info))
			}
			fmt.Fprintf(a.stdout, "deployed %s (%s)\nfactories: %s\n", info.Hash, humanSize(info.Size), strings.Join(info.Factories, ", "))
			return nil
		},
	}
	addFormatFlag(cmd, &out)
	return cmd
}

// parseRestart reads --restart.
func parseRestart(s string) (wasmactor.RestartPolicy, error) {
	for _, p := range []wasmactor.RestartPolicy{wasmactor.Temporary, wasmactor.Transient, wasmactor.Permanent} {
		if s == p.String() {
			return p, nil
		}
	}
	return 0, usageErrorf("--restart must be permanent, transient or temporary, not %q", s)
}

type spawnJSON struct {
	pidJSON
	Factory string `json:"factory"`
	Name    string `json:"name,omitempty"`
}

func (a *app) spawnCmd() *cobra.Command {
	var (
		out         format
		on, name    string
		argsJSON    string
		isolated    bool
		restart     string
		maxRestarts int
		period      time.Duration
	)
	cmd := &cobra.Command{
		Use:   "spawn FACTORY",
		Short: "Start an actor of a deployed factory, on any node; print its PID",
		Long: `Start an actor of FACTORY ("Counter", or "Counter@<hash prefix>" to pin a
module version) and print its PID. Without --on, the cluster places it on the
least-loaded node that can run the factory. --args is the actor's init
argument as JSON (converted to CBOR). --name registers it cluster-wide, so
send and call can use the name instead of the PID.`,
		Example: `  wasmactor spawn Counter
  wasmactor spawn Counter --on n3 --name counter --args '{"start": 10}'
  wasmactor spawn Worker --isolated --restart permanent --max-restarts 5 --restart-period 10s
  PID=$(wasmactor spawn Counter)`,
		Args: exactArgs(1, "one FACTORY"),
		RunE: func(cmd *cobra.Command, args []string) error {
			factory := args[0]
			if err := registry.ValidateFactory(strings.SplitN(factory, "@", 2)[0]); err != nil {
				return fail(exitUsage, err, "%v", oneLineBare(err))
			}
			policy, err := parseRestart(restart)
			if err != nil {
				return err
			}
			if maxRestarts < 0 || period < 0 {
				return usageErrorf("--max-restarts and --restart-period must not be negative")
			}
			opts := client.SpawnOptions{
				Name:     name,
				Isolated: isolated,
				Restart:  wasmactor.Restart{Policy: policy, MaxRestarts: maxRestarts, Period: period},
				Node:     on,
			}
			if cmd.Flags().Changed("args") {
				args, err := JSONToCBOR("--args", []byte(argsJSON))
				if err != nil {
					return err
				}
				opts.Args = client.CBOR(args)
			}
			var pid wasmactor.PID
			if err := a.request(cmd.Context(), func(c *client.Client) (err error) {
				pid, err = c.Spawn(cmd.Context(), factory, opts)
				return err
			}); err != nil {
				where := ""
				if on != "" {
					where = " on " + on
				}
				return fmt.Errorf("spawn %s%s: %w", factory, where, err)
			}
			if out == formatJSON {
				return writeJSON(a.stdout, spawnJSON{pidJSON: pidOut(pid), Factory: factory, Name: name})
			}
			fmt.Fprintln(a.stdout, pid)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&on, "on", "", "node to spawn on (default: the cluster's placement)")
	f.StringVar(&name, "name", "", "register the actor under this cluster-wide name")
	f.StringVar(&argsJSON, "args", "", "init argument, JSON")
	f.BoolVar(&isolated, "isolated", false, "give the actor a module instance of its own")
	f.StringVar(&restart, "restart", "temporary", "restart policy: permanent, transient or temporary")
	f.IntVar(&maxRestarts, "max-restarts", 0, "restart intensity: at most this many restarts per period (default 3)")
	f.DurationVar(&period, "restart-period", 0, "restart intensity period (default 5s)")
	addFormatFlag(cmd, &out)
	return cmd
}

// messageArgs checks TARGET and converts JSON for send and call; with
// --type the message is typed (typed.go).
func messageArgs(args []string, typeName string) (string, []byte, error) {
	if err := checkTarget(args[0]); err != nil {
		return "", nil, err
	}
	payload, err := JSONToCBOR("message", []byte(args[1]))
	if err != nil {
		return "", nil, err
	}
	if typeName != "" {
		payload = typedPayload(typeName, payload)
	}
	return args[0], payload, nil
}

func (a *app) sendCmd() *cobra.Command {
	var (
		group    string
		out      format
		typeName string
	)
	cmd := &cobra.Command{
		Use:   "send TARGET JSON | send --group GROUP JSON",
		Short: "Send a message one way (at most once) to an actor or a group",
		Long: `Send JSON (converted to CBOR) to TARGET, a PID as spawn and ps print it
(<node.incarnation.serial>) or a registered name, without waiting for an
answer. Success means the target's node queued it; delivery is at most once,
in order per sender. It prints nothing. --type NAME sends a typed message:
the JSON is its body, tagged with NAME's type tag (see 'wasmactor gen').

With --group, send it to every member of GROUP, on any node, and print how
many members it was sent to and which refused it (full mailbox, dead, node
down); some refusals exit with code 6, after the report.`,
		Example: `  wasmactor send counter '{"op": "inc", "by": 2}'
  wasmactor send '<n2.3f9a0c11d2e4b607.17>' '{"op": "reset"}'
  wasmactor send --group counters '{"op": "reset"}'
  wasmactor send alice --type Deposit '{"amount": 5}'`,
		Args: func(cmd *cobra.Command, args []string) error {
			if group != "" {
				return exactArgs(1, "JSON with --group")(cmd, args)
			}
			return exactArgs(2, "TARGET and JSON")(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if group != "" {
				return a.sendGroup(cmd, group, args[0], typeName, out)
			}
			target, payload, err := messageArgs(args, typeName)
			if err != nil {
				return err
			}
			if err := a.request(cmd.Context(), func(c *client.Client) error {
				return c.Send(cmd.Context(), target, client.CBOR(payload))
			}); err != nil {
				return fmt.Errorf("send to %s: %w", target, err)
			}
			return nil
		},
	}
	addTypeFlag(cmd, &typeName)
	cmd.Flags().StringVar(&group, "group", "", "send to every member of this process group")
	addFormatFlag(cmd, &out)
	return cmd
}

// callGrace is how much longer the client waits than the node, so a timeout
// is reported by the node, which knows which actor failed to answer. A
// variable so tests of the client-side timeout need not wait for it.
var callGrace = 2 * time.Second

type callJSON struct {
	Target string          `json:"target"`
	Type   string          `json:"type,omitempty"` // a typed reply's type tag
	Reply  json.RawMessage `json:"reply"`
}

func (a *app) callCmd() *cobra.Command {
	var (
		out      format
		timeout  time.Duration
		typeName string
	)
	cmd := &cobra.Command{
		Use:   "call TARGET JSON",
		Short: "Ask an actor and print its reply as JSON",
		Long: `Send JSON (converted to CBOR) to TARGET, a PID as spawn and ps print it
(<node.incarnation.serial>) or a registered name, as a request, and print the
actor's CBOR reply as JSON. Byte strings print as base64, non-text map keys as
strings. With -o json the reply is wrapped: {"target": ..., "reply": ...}.

--type NAME sends a typed message: the JSON is its body, tagged with NAME's
type tag (see 'wasmactor gen'). A typed reply prints as its body (-o json
adds its "type" tag); an error the actor answered with (a typed.Error: an
unknown type, a body that does not decode, a failed handler) is the
command's error.`,
		Example: `  wasmactor call counter '{"op": "get"}'
  wasmactor call '<n3.e91a5651e02e083e.1>' '{"op": "get"}' --timeout 2s
  wasmactor call counter '{"op": "get"}' | jq .value
  wasmactor call alice --type Transfer '{"to": "bob", "amount": 30}'`,
		Args: exactArgs(2, "TARGET and JSON"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if timeout <= 0 {
				return usageErrorf("--timeout must be positive, not %s", timeout)
			}
			target, payload, err := messageArgs(args, typeName)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout+callGrace)
			defer cancel()
			var reply client.CBOR
			if err := a.request(ctx, func(c *client.Client) (err error) {
				reply, err = c.CallTimeout(ctx, target, client.CBOR(payload), timeout)
				return err
			}); err != nil {
				if code, _ := classify(err); code == exitTimeout {
					return fail(exitTimeout, err, "call %s: no reply within %s", target, timeout)
				}
				return fmt.Errorf("call %s: %w", target, err)
			}
			tag, body, err := typedReply(reply)
			if err != nil {
				return fmt.Errorf("call %s: %w", target, err)
			}
			js, err := CBORToJSON(body)
			if err != nil {
				return fail(exitFailure, err, "call %s: the reply is not printable as JSON: %v", target, err)
			}
			if out == formatJSON {
				return writeJSON(a.stdout, callJSON{Target: target, Type: tag, Reply: js})
			}
			_, err = fmt.Fprintf(a.stdout, "%s\n", js)
			return err
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Second, "how long to wait for the reply")
	addTypeFlag(cmd, &typeName)
	addFormatFlag(cmd, &out)
	return cmd
}

func (a *app) killCmd() *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "kill TARGET",
		Short: "Stop an actor with an exit reason; prints nothing",
		Long: `Stop TARGET, a PID as spawn and ps print it (<node.incarnation.serial>) or a
registered name, as if a linked actor had died with --reason (default
"killed"). Its monitors and links fire, and its restart policy applies: a
permanent actor comes back with the same PID.`,
		Example: `  wasmactor kill '<n3.e91a5651e02e083e.1>'
  wasmactor kill counter --reason maintenance`,
		Args: exactArgs(1, "one TARGET"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkTarget(args[0]); err != nil {
				return err
			}
			if err := a.request(cmd.Context(), func(c *client.Client) error {
				return c.Kill(cmd.Context(), args[0], reason)
			}); err != nil {
				return fmt.Errorf("kill %s: %w", args[0], err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", `exit reason (default "killed")`)
	return cmd
}

type actorJSON struct {
	pidJSON
	Factory  string   `json:"factory"`
	Module   string   `json:"module"`
	Instance uint64   `json:"instance"`
	Names    []string `json:"names"`
	// NamesTotal is how many names the actor holds; names lists at most
	// the first 32 of them.
	NamesTotal int    `json:"names_total"`
	Refused    uint64 `json:"refused"`
}

// nodeErrorJSON is a node that could not answer its part of a listing.
type nodeErrorJSON struct {
	Node  string `json:"node"`
	Error string `json:"error"`
}

type psJSON struct {
	Actors []actorJSON     `json:"actors"`
	Errors []nodeErrorJSON `json:"errors"`
}

// partialError is a listing that printed what it got but lacks the part of
// some nodes: one line each on stderr, and exitUnreachable.
type partialError struct {
	lines []string
}

func (e *partialError) Error() string { return strings.Join(e.lines, "; ") }

// listingErrors turns the nodes that could not answer into what is printed
// on stderr (nil: the listing is whole).
func listingErrors(missing *client.PartialError) error {
	if missing == nil {
		return nil
	}
	pe := &partialError{}
	for _, ne := range missing.Nodes {
		pe.lines = append(pe.lines, oneLine(fmt.Sprintf("node %s did not answer: %s", ne.Node, ne.Err)))
	}
	return pe
}

func errorsOut(missing *client.PartialError) []nodeErrorJSON {
	out := []nodeErrorJSON{}
	if missing != nil {
		for _, ne := range missing.Nodes {
			out = append(out, nodeErrorJSON{Node: ne.Node, Error: oneLineBare(ne.Err)})
		}
	}
	return out
}

// namesCell is the NAMES column: the names listed, and how many in all
// when there are more.
func namesCell(x client.ActorInfo) string {
	s := strings.Join(x.Names, ",")
	if x.NamesTotal > len(x.Names) {
		s += fmt.Sprintf(",... (%d in all)", x.NamesTotal)
	}
	return orDash(s)
}

func (a *app) psCmd() *cobra.Command {
	var out format
	cmd := &cobra.Command{
		Use:   "ps",
		Short: "List the actors of the whole cluster",
		Long: `List every actor of the cluster, asked through one node, page by page.
An actor holding many names shows the first 32 and their number.

A node that cannot answer its part (down meanwhile, timed out) is named on
stderr, one line per node, after the actors that were listed, and the exit
code is 3: the listing is incomplete. With -o json the output is an object,
{"actors": [...], "errors": [{"node": ..., "error": ...}]}.`,
		Example: "  wasmactor ps\n  wasmactor ps -o json | jq -r '.actors[] | select(.factory == \"Counter\") | .pid'",
		Args:    exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var actors []client.ActorInfo // ordered by PID
			var missing *client.PartialError
			if err := a.request(cmd.Context(), func(c *client.Client) (err error) {
				actors, err = c.Ps(cmd.Context())
				if errors.As(err, &missing) {
					return nil // printed after what the others answered
				}
				return err
			}); err != nil {
				return fmt.Errorf("ps: %w", err)
			}
			if out == formatJSON {
				js := psJSON{Actors: make([]actorJSON, 0, len(actors)), Errors: errorsOut(missing)}
				for _, x := range actors {
					js.Actors = append(js.Actors, actorJSON{pidJSON: pidOut(x.PID), Factory: x.Factory, Module: x.Module, Instance: x.Instance,
						Names: nonNil(x.Names), NamesTotal: x.NamesTotal, Refused: x.Refused})
				}
				if err := writeJSON(a.stdout, js); err != nil {
					return err
				}
				return listingErrors(missing)
			}
			rows := make([][]string, 0, len(actors))
			for _, x := range actors {
				rows = append(rows, []string{x.PID.String(), x.Factory, shortHash(x.Module), fmt.Sprint(x.Instance), fmt.Sprint(x.Refused), namesCell(x)})
			}
			if err := table(a.stdout, []string{"PID", "FACTORY", "MODULE", "INSTANCE", "REFUSED", "NAMES"}, rows); err != nil {
				return err
			}
			return listingErrors(missing)
		},
	}
	addFormatFlag(cmd, &out)
	return cmd
}

type nodeJSON struct {
	Name        string `json:"name"`
	Addr        string `json:"addr"`
	Incarnation string `json:"incarnation"`
	Up          bool   `json:"up"`
	Actors      int    `json:"actors"`
	Instances   int    `json:"instances"`
	Modules     int    `json:"modules"`
}

// nodesListJSON is `nodes -o json`: the members that answered and the
// ones that did not.
type nodesListJSON struct {
	Nodes  []nodeJSON      `json:"nodes"`
	Errors []nodeErrorJSON `json:"errors"`
}

func (a *app) nodesCmd() *cobra.Command {
	var (
		out   format
		watch bool
	)
	cmd := &cobra.Command{
		Use:   "nodes",
		Short: "List the members of the cluster; with --watch, then stream their changes",
		Long: `List the node asked and every member it is connected to, with their
status. With --watch, then print a line each time a member comes up or goes
down, as the node it is connected to sees it, with the reason, until
interrupted (or the node goes away: exit code 3).

A member that does not answer is named on stderr, one line per node, and the
exit code is 3 (with --watch the watch goes on). With -o json the listing is
an object, {"nodes": [...], "errors": [{"node": ..., "error": ...}]}.`,
		Example: "  wasmactor nodes\n  wasmactor nodes -o json | jq -r '.nodes[] | select(.up) | .name'\n  wasmactor nodes --watch",
		Args:    exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if watch {
				return a.watchNodes(cmd, out)
			}
			var nodes []client.NodeStatus // ordered by name
			var missing *client.PartialError
			if err := a.request(cmd.Context(), func(c *client.Client) (err error) {
				nodes, err = c.Nodes(cmd.Context())
				if errors.As(err, &missing) {
					return nil // printed after what the others answered
				}
				return err
			}); err != nil {
				return fmt.Errorf("nodes: %w", err)
			}
			if out == formatJSON {
				if err := writeJSON(a.stdout, nodesListJSON{Nodes: nodesJSON(nodes), Errors: errorsOut(missing)}); err != nil {
					return err
				}
				return listingErrors(missing)
			}
			if err := nodesTable(a.stdout, nodes); err != nil {
				return err
			}
			return listingErrors(missing)
		},
	}
	cmd.Flags().BoolVarP(&watch, "watch", "w", false, "after the listing, print every member that comes up or goes down")
	addFormatFlag(cmd, &out)
	return cmd
}

func nodesJSON(nodes []client.NodeStatus) []nodeJSON {
	js := make([]nodeJSON, 0, len(nodes))
	for _, n := range nodes {
		js = append(js, nodeJSON{Name: n.Name, Addr: n.Addr, Incarnation: incarnation(n.Incarnation), Up: n.Up, Actors: n.Actors, Instances: n.Instances, Modules: n.Modules})
	}
	return js
}

func nodesTable(w io.Writer, nodes []client.NodeStatus) error {
	rows := make([][]string, 0, len(nodes))
	for _, n := range nodes {
		status := "up"
		if !n.Up {
			status = "down"
		}
		rows = append(rows, []string{n.Name, orDash(n.Addr), incarnation(n.Incarnation), status, fmt.Sprint(n.Actors), fmt.Sprint(n.Instances), fmt.Sprint(n.Modules)})
	}
	return table(w, []string{"NAME", "ADDR", "INCARNATION", "STATUS", "ACTORS", "INSTANCES", "MODULES"}, rows)
}

func (a *app) modulesCmd() *cobra.Command {
	var out format
	cmd := &cobra.Command{
		Use:     "modules",
		Short:   "List every module version deployed: holders, which factories it is the newest of, actors running it",
		Example: "  wasmactor modules\n  wasmactor modules -o json | jq -r '.[0].hash'",
		Args:    exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var mods []client.ModuleStatus // newest first, as the factory index resolves names
			if err := a.request(cmd.Context(), func(c *client.Client) (err error) {
				mods, err = c.Modules(cmd.Context())
				return err
			}); err != nil {
				return fmt.Errorf("modules: %w", err)
			}
			if out == formatJSON {
				js := make([]moduleStatusJSON, 0, len(mods))
				for _, m := range mods {
					actors := m.Actors
					if actors == nil {
						actors = map[string]int{}
					}
					js = append(js, moduleStatusJSON{moduleJSON: moduleOut(m.ModuleInfo), Holders: nonNil(m.Holders), Newest: nonNil(m.Newest), Actors: actors})
				}
				return writeJSON(a.stdout, js)
			}
			rows := make([][]string, 0, len(mods))
			for _, m := range mods {
				deployed := "-"
				if m.DeployedAt != 0 {
					deployed = time.Unix(0, m.DeployedAt).Local().Format("2006-01-02 15:04:05")
				}
				total := 0
				for _, k := range m.Actors {
					total += k
				}
				rows = append(rows, []string{shortHash(m.Hash.String()), humanSize(m.Size), orDash(strings.Join(m.Factories, ",")), orDash(strings.Join(m.Holders, ",")), deployed,
					orDash(strings.Join(m.Newest, ",")), fmt.Sprint(total)})
			}
			return table(a.stdout, []string{"MODULE", "SIZE", "FACTORIES", "HOLDERS", "DEPLOYED", "NEWEST", "ACTORS"}, rows)
		},
	}
	addFormatFlag(cmd, &out)
	return cmd
}
