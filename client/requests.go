package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/abi"
	"github.com/wasmactor/wasmactor/internal/proto"
	"github.com/wasmactor/wasmactor/registry"
	"github.com/wasmactor/wasmactor/transport"
)

// Deploy uploads a module to the node, which validates and compiles it,
// stores it by the SHA-256 of its bytes and announces it to the cluster.
// Any node can then spawn its factories; nodes that lack the module pull it
// once. Deploying the same bytes again is a no-op.
//
// # Errors
//
// [wasmactor.ErrBadModule] for bytes that are not a module a node accepts.
func (c *Client) Deploy(ctx context.Context, wasm []byte) (ModuleInfo, error) {
	return c.DeployFrom(ctx, bytes.NewReader(wasm), int64(len(wasm)))
}

// DeployFrom is [Client.Deploy] for a module of size bytes read from r (a
// file, say), which it reads once, a chunk at a time.
//
// # Notes
//
// The module goes in chunks of at most 512 KiB, one at a time, each
// answered before the next; the node writes them to a file and checks
// their SHA-256 at the end. Neither side holds a message larger than a
// chunk (the node reads the module whole only to compile it). A deploy
// that fails after the upload opened (r fails or ends early, ctx ends, the
// node refuses a chunk) aborts the upload, best effort; an upload left
// without a chunk for 30 seconds, or not committed within a minute plus a
// second per 256 KiB, is dropped by the node.
//
// # Errors
//
// Those of Deploy; [wasmactor.ErrTooLarge] for a module over the node's
// cap (before any byte is sent); [wasmactor.ErrLimit] when the node has
// too many deploys in flight; the error of r, or [wasmactor.ErrBadArgument]
// if r ends before size bytes.
func (c *Client) DeployFrom(ctx context.Context, r io.Reader, size int64) (_ ModuleInfo, err error) {
	var opened proto.DeployOpened
	if err := c.request(ctx, proto.KindDeployOpen, proto.Marshal(proto.DeployOpen{Size: size}), &opened); err != nil {
		return ModuleInfo{}, err
	}
	defer func() {
		if err != nil {
			c.abortUpload(ctx, opened.ID)
		}
	}()
	chunk := min(opened.ChunkSize, proto.ChunkSize)
	if chunk <= 0 {
		chunk = proto.ChunkSize
	}
	buf := make([]byte, chunk)
	sum := sha256.New()
	for off := int64(0); off < size; {
		k, err := io.ReadFull(r, buf[:min(int64(chunk), size-off)])
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return ModuleInfo{}, fmt.Errorf("%w: the module ended after %d of %d bytes", wasmactor.ErrBadArgument, off+int64(k), size)
		}
		if err != nil {
			return ModuleInfo{}, err
		}
		sum.Write(buf[:k])
		body := proto.Marshal(proto.DeployChunk{ID: opened.ID, Offset: off, Data: buf[:k]})
		if err := c.request(ctx, proto.KindDeployChunk, body, nil); err != nil {
			return ModuleInfo{}, err
		}
		off += int64(k)
	}
	var info ModuleInfo
	err = c.request(ctx, proto.KindDeployCommit, proto.Marshal(proto.DeployCommit{ID: opened.ID, Hash: registry.Hash(sum.Sum(nil))}), &info)
	return info, err
}

// abortUpload tells the node to drop an upload that will not be committed,
// so that it does not hold one of the node's few upload slots until it
// stalls. Best effort: its error is not the deploy's, and an upload the
// node already dropped (a refused commit ends it) is no matter. It runs
// even when ctx is what ended the deploy, for a few seconds at most.
func (c *Client) abortUpload(ctx context.Context, id uint64) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = c.request(actx, proto.KindDeployAbort, proto.Marshal(proto.DeployCommit{ID: id}), nil)
}

// SpawnOptions are the options of [Client.Spawn]. The zero value spawns a
// temporary, unnamed actor into a shared instance with no init args, on the
// node the cluster's placement picks.
type SpawnOptions struct {
	// Name registers the actor under a cluster-wide name.
	Name string
	// Args is the actor's init argument, CBOR-encoded (a [CBOR] value
	// passes as is).
	Args any
	// Isolated gives the actor an instance of its own.
	Isolated bool
	// Restart is the supervision policy.
	Restart wasmactor.Restart
	// Node is the node to spawn on. Empty lets the node the client is
	// connected to place it (see host.SpawnOptions.Node).
	Node string
}

// Spawn starts an actor of factory ("Counter", or "Counter@<hash prefix>"
// to pin a module version) and returns its PID.
//
// # Errors
//
// [wasmactor.ErrUnknownFactory], [wasmactor.ErrAmbiguousFactory],
// [wasmactor.ErrUnknownNode], [wasmactor.ErrNameTaken],
// [wasmactor.ErrTooLarge].
func (c *Client) Spawn(ctx context.Context, factory string, opts SpawnOptions) (PID, error) {
	args, err := encode(opts.Args)
	if err != nil {
		return PID{}, err
	}
	req := proto.Spawn{Factory: factory, Args: args, Name: opts.Name, Isolated: opts.Isolated, Restart: opts.Restart, Node: opts.Node}
	var rep proto.SpawnReply
	if err := c.request(ctx, proto.KindSpawnCLI, proto.Marshal(req), &rep); err != nil {
		return PID{}, err
	}
	return rep.PID, nil
}

// Send delivers msg one way (at most once) to target: a PID as printed
// (pid.String()) or a registered name. Success means the target's node
// queued it.
//
// # Errors
//
// [wasmactor.ErrBadPID] for text that looks like a PID but is not one,
// [wasmactor.ErrNotFound] for an unknown name, [wasmactor.ErrNoProc],
// [wasmactor.ErrStaleIncarnation], [wasmactor.ErrMailboxFull],
// [wasmactor.ErrTooLarge].
func (c *Client) Send(ctx context.Context, target string, msg any) error {
	if err := checkTarget(target); err != nil {
		return err
	}
	payload, err := encode(msg)
	if err != nil {
		return err
	}
	return c.request(ctx, proto.KindSend, proto.Marshal(proto.Message{Target: target, Payload: payload}), nil)
}

// CallGrace is how much sooner than ctx's deadline [Client.Call] asks the
// node to give up, so that a timeout is reported by the node, which knows
// which actor failed to answer.
const CallGrace = time.Second

// Call asks target (a PID as printed, or a registered name) and waits for
// its reply. When ctx has a deadline, the node waits for the actor until
// [CallGrace] before it (or half the time left, if that is less); without
// one, the node waits its own default (host.Config.AskTimeout).
//
// # Errors
//
// [wasmactor.ErrTimeout] when no reply came in time (also when ctx expired
// first), [wasmactor.ErrNoProc] when the actor is or becomes dead, and the
// errors of [Client.Send].
func (c *Client) Call(ctx context.Context, target string, msg any) (CBOR, error) {
	var timeout time.Duration
	if dl, ok := ctx.Deadline(); ok {
		left := time.Until(dl)
		timeout = left - min(CallGrace, left/2)
		if timeout < time.Millisecond {
			timeout = time.Millisecond
		}
	}
	return c.CallTimeout(ctx, target, msg, timeout)
}

// CallTimeout is [Client.Call] with the node's wait for the actor given
// explicitly (0: the node's default). ctx bounds the whole request; give it
// more than timeout, so a timeout is the node's answer.
func (c *Client) CallTimeout(ctx context.Context, target string, msg any, timeout time.Duration) (CBOR, error) {
	if err := checkTarget(target); err != nil {
		return nil, err
	}
	payload, err := encode(msg)
	if err != nil {
		return nil, err
	}
	req := proto.Message{Target: target, Payload: payload, TimeoutMs: timeout.Milliseconds()}
	var rep proto.CallReply
	if err := c.request(ctx, proto.KindCall, proto.Marshal(req), &rep); err != nil {
		if errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, wasmactor.ErrTimeout) {
			err = fmt.Errorf("%w: no reply from %s: %w", wasmactor.ErrTimeout, target, err)
		}
		return nil, err
	}
	return CBOR(rep.Payload), nil
}

// Kill stops target (a PID as printed, or a registered name) with an exit
// reason (default "killed") as if a linked actor had died: its monitors and
// links fire, and its restart policy applies.
//
// # Errors
//
// [wasmactor.ErrBadPID], [wasmactor.ErrNotFound], [wasmactor.ErrNoProc].
func (c *Client) Kill(ctx context.Context, target, reason string) error {
	if err := checkTarget(target); err != nil {
		return err
	}
	return c.request(ctx, proto.KindKillActor, proto.Marshal(proto.Target{Target: target, Reason: reason}), nil)
}

// Join makes the node the client is connected to join a cluster at run
// time through seeds: HOST:PORT, or dns:NAME:PORT for every address of
// NAME. It returns once a seed answered; membership then connects every
// member.
//
// # Errors
//
// [wasmactor.ErrBadArgument] for no seeds or more than 64; the node's
// error when no seed answered.
func (c *Client) Join(ctx context.Context, seeds ...string) error {
	return c.request(ctx, proto.KindJoinSeeds, proto.Marshal(proto.Seeds{Addrs: seeds}), nil)
}

// ActorInfo describes one running actor, as `wasmactor ps` lists it.
type ActorInfo struct {
	PID PID `json:"pid"`
	// Factory is the factory's name, without a version.
	Factory string `json:"factory"`
	// Module is the hash (hex) of the module the actor runs.
	Module string `json:"module"`
	// Instance numbers the module instance hosting the actor on its node.
	Instance uint64 `json:"instance"`
	// Names are the actor's names, sorted: all of them, or the first
	// proto.MaxNamesListed (32) when NamesTotal says it holds more.
	Names      []string `json:"names,omitempty"`
	NamesTotal int      `json:"names_total"`
	// Mailbox is how many user messages are queued for the actor.
	Mailbox int `json:"mailbox"`
	// Restarts is how often its supervision restarted it.
	Restarts uint32 `json:"restarts"`
	// Refused counts the actor's tells that another node refused (full
	// mailbox, no such actor, stale incarnation) after they left its node.
	Refused uint64 `json:"refused"`
}

// NodeError is a node that could not answer its part of a listing. Err
// keeps the node's text and matches the sentinel of its code, as the
// client's other errors do.
type NodeError struct {
	Node string
	Err  error
}

func (e NodeError) Error() string { return "node " + e.Node + ": " + e.Err.Error() }

func (e NodeError) Unwrap() error { return e.Err }

// PartialError comes with a listing (Ps, Nodes) that lacks the part of some
// nodes: the listing returned holds what the others answered, and Nodes
// says which did not, and why. Nothing is left out without a word.
type PartialError struct {
	Nodes []NodeError
}

func (e *PartialError) Error() string {
	parts := make([]string, len(e.Nodes))
	for i, ne := range e.Nodes {
		parts[i] = ne.Error()
	}
	return "wasmactor: listing incomplete: " + strings.Join(parts, "; ")
}

// partial is the *PartialError for a listing's node errors, nil for none.
func partial(errs []proto.NodeError) error {
	if len(errs) == 0 {
		return nil
	}
	pe := &PartialError{}
	for _, e := range errs {
		pe.Nodes = append(pe.Nodes, NodeError{Node: e.Node, Err: newRemoteError(&transport.RemoteError{Code: e.Code, Message: e.Message})})
	}
	sort.SliceStable(pe.Nodes, func(i, j int) bool { return pe.Nodes[i].Node < pe.Nodes[j].Node })
	return pe
}

// maxListPages stops following a node whose listing does not end.
const maxListPages = 1 << 20

// Ps lists the actors of the whole cluster, ordered by PID. The node
// answers in bounded pages (a cursor each), which Ps follows to the end.
//
// # Errors
//
// A *[PartialError] (errors.As) comes with the actors of the nodes that
// answered when some did not. A node whose pages do not advance is
// [ErrMalformedReply].
func (c *Client) Ps(ctx context.Context) ([]ActorInfo, error) {
	var (
		out  []ActorInfo
		errs []proto.NodeError
		req  proto.PsRequest
	)
	for pages := 0; ; pages++ {
		var page proto.PsPage
		if err := c.request(ctx, proto.KindPs, proto.Marshal(req), &page); err != nil {
			return nil, err
		}
		for _, a := range page.Actors {
			out = append(out, ActorInfo{PID: a.PID, Factory: a.Factory, Module: a.Module, Instance: a.Instance, Names: a.Names,
				NamesTotal: max(a.NamesTotal, len(a.Names)), Mailbox: a.Mailbox, Restarts: a.Restarts, Refused: a.Refused})
		}
		errs = append(errs, page.Errors...)
		if page.Next == nil {
			break
		}
		if *page.Next == req.After || pages == maxListPages {
			return nil, &malformedError{errors.New("the listing does not advance")}
		}
		req.After = *page.Next
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PID.Less(out[j].PID) })
	return out, partial(errs)
}

// NodeStatus describes one member of the cluster, as `wasmactor nodes`
// lists it.
type NodeStatus struct {
	Name        string `json:"name"`
	Incarnation uint64 `json:"incarnation"`
	Addr        string `json:"addr"`
	// Up is false for a member the node knows of but cannot reach.
	Up        bool `json:"up"`
	Actors    int  `json:"actors"`
	Instances int  `json:"instances"`
	Modules   int  `json:"modules"`
	// Pulls counts modules the node fetched from peers since it started.
	Pulls      uint64 `json:"pulls"`
	Goroutines int    `json:"goroutines"`
	HeapBytes  uint64 `json:"heap_bytes"`
	// Members is how many other nodes it is connected to.
	Members int `json:"members"`
	// Counters since the node started (a reader derives rates from two
	// samples): messages delivered to guests, sends refused for a full
	// mailbox, instances discarded, actors restarted, host Calls and their
	// total seconds; and the guests' linear memory now, in bytes.
	Delivered   uint64  `json:"delivered"`
	MailboxFull uint64  `json:"mailbox_full"`
	Crashes     uint64  `json:"crashes"`
	Restarts    uint64  `json:"restarts"`
	CallCount   uint64  `json:"call_count"`
	CallSeconds float64 `json:"call_seconds"`
	GuestMemory uint64  `json:"guest_memory"`
	// RecentCrashes are the node's last instance failures, newest first.
	RecentCrashes []Crash `json:"recent_crashes,omitempty"`
	// ModuleActors counts live actors per module (short hash).
	ModuleActors map[string]int `json:"module_actors,omitempty"`
}

// Crash is one discarded instance: when, of which module, how many actors
// it took down, and why.
type Crash struct {
	UnixMs    int64    `json:"unix_ms"`
	Module    string   `json:"module"`
	Factories []string `json:"factories,omitempty"`
	Instance  uint64   `json:"instance"`
	Actors    int      `json:"actors"`
	Reason    string   `json:"reason"`
}

// Nodes lists the members of the cluster, the connected node included,
// ordered by name.
//
// # Errors
//
// A *[PartialError] (errors.As) comes with the members that answered when
// some did not.
func (c *Client) Nodes(ctx context.Context) ([]NodeStatus, error) {
	var nr proto.NodesReply
	if err := c.request(ctx, proto.KindNodes, proto.Marshal(proto.Empty{}), &nr); err != nil {
		return nil, err
	}
	ns := nr.Nodes
	out := make([]NodeStatus, len(ns))
	for i, n := range ns {
		out[i] = NodeStatus{Name: n.Name, Incarnation: n.Incarnation, Addr: n.Addr, Up: n.Up, Actors: n.Actors,
			Instances: n.Instances, Modules: n.Modules, Pulls: n.Pulls, Goroutines: n.Goroutines, HeapBytes: n.HeapBytes, Members: n.Members,
			Delivered: n.Delivered, MailboxFull: n.MailboxFull, Crashes: n.Crashes, Restarts: n.Restarts,
			CallCount: n.CallCount, CallSeconds: n.CallSeconds, GuestMemory: n.GuestMemory, ModuleActors: n.ModuleActors}
		for _, c := range n.RecentCrashes {
			out[i].RecentCrashes = append(out[i].RecentCrashes, Crash(c))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, partial(nr.Errors)
}

// ModuleStatus is a deployed module and the nodes holding its bytes.
type ModuleStatus struct {
	ModuleInfo
	Holders []string `json:"holders"`
	// Actors counts the module's live actors per node (nodes with none
	// left out); Newest lists the factories it is the default version of.
	Actors map[string]int `json:"actors,omitempty"`
	Newest []string       `json:"newest,omitempty"`
}

// Modules lists the modules deployed in the cluster, newest first (the
// order in which a bare factory name resolves).
func (c *Client) Modules(ctx context.Context) ([]ModuleStatus, error) {
	var ms []proto.ModuleStatus
	if err := c.request(ctx, proto.KindModules, proto.Marshal(proto.Empty{}), &ms); err != nil {
		return nil, err
	}
	out := make([]ModuleStatus, len(ms))
	for i, m := range ms {
		out[i] = ModuleStatus{ModuleInfo: m.Info, Holders: m.Holders, Actors: m.Actors, Newest: m.Newest}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].DeployedAt > out[j].DeployedAt })
	return out, nil
}

// NodeEvent is a member of the cluster that came up or went down, as the
// node the client is connected to saw it.
type NodeEvent struct {
	// Seq numbers the node's events from 1; a cursor for NodeEvents.
	Seq         uint64 `json:"seq"`
	Node        string `json:"node"`
	Incarnation uint64 `json:"incarnation"`
	Addr        string `json:"addr,omitempty"`
	Up          bool   `json:"up"`
	// Reason: "joined", "restarted" or "reconnected" when Up; "left",
	// "timeout", "restarted" or "noconnection" when down (see
	// host.NodeEvent).
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// NodeEventsPage is one answer of [Client.NodeEvents].
type NodeEventsPage struct {
	// Events are the events after the cursor, oldest first.
	Events []NodeEvent
	// Next is the cursor to ask with next time.
	Next uint64
	// Missed counts events after the cursor the node no longer holds (it
	// keeps its last few hundred).
	Missed uint64
}

// NodeEvents returns the node's peer events after cursor after, waiting up
// to wait (at most a minute) for one if there is none yet: a long poll.
// Cursor 0 asks for every event the node still holds; a watcher that only
// wants what comes next starts from the Next of such a call with wait 0.
//
// # Errors
//
// [wasmactor.ErrBadArgument] for a wait over a minute; ctx must allow more
// than wait.
func (c *Client) NodeEvents(ctx context.Context, after uint64, wait time.Duration) (NodeEventsPage, error) {
	var rep proto.NodeEventsReply
	if err := c.request(ctx, proto.KindNodeEvents, proto.Marshal(proto.NodeEventsRequest{After: after, WaitMs: wait.Milliseconds()}), &rep); err != nil {
		return NodeEventsPage{}, err
	}
	page := NodeEventsPage{Next: rep.Next, Missed: rep.Missed, Events: make([]NodeEvent, len(rep.Events))}
	for i, e := range rep.Events {
		page.Events[i] = NodeEvent{Seq: e.Seq, Node: e.Node, Incarnation: e.Incarnation, Addr: e.Addr, Up: e.Up, Reason: e.Reason,
			At: time.UnixMilli(e.UnixMs)}
	}
	return page, nil
}

// Group is a process group and its members, sorted.
type Group struct {
	Name    string `json:"group"`
	Members []PID  `json:"members"`
}

// Groups lists the cluster's process groups that have members, by name, as
// the node the client is connected to knows them.
func (c *Client) Groups(ctx context.Context) ([]Group, error) {
	return c.groups(ctx, "")
}

// GroupMembers lists one group's members, sorted; empty for a group
// nobody is in.
//
// # Errors
//
// [wasmactor.ErrBadArgument] for an invalid group name.
func (c *Client) GroupMembers(ctx context.Context, group string) ([]PID, error) {
	if group == "" {
		return nil, fmt.Errorf("%w: empty group name", wasmactor.ErrBadArgument)
	}
	gs, err := c.groups(ctx, group)
	if err != nil || len(gs) == 0 {
		return nil, err
	}
	return gs[0].Members, nil
}

func (c *Client) groups(ctx context.Context, group string) ([]Group, error) {
	var gs []proto.GroupInfo
	if err := c.request(ctx, proto.KindGroups, proto.Marshal(proto.GroupsRequest{Group: group}), &gs); err != nil {
		return nil, err
	}
	out := make([]Group, len(gs))
	for i, g := range gs {
		out[i] = Group{Name: g.Group, Members: g.Members}
	}
	return out, nil
}

// GroupSendResult says what [Client.SendGroup] did: the members the group
// had, how many were sent the message, how many refused it at once, and
// the first refusals (at most 64).
type GroupSendResult struct {
	Members  int
	Sent     int
	Refused  int
	Refusals []Refusal
}

// Refusal is a member that refused a message sent to its group; Err
// matches the wasmactor sentinel of the reason (errors.Is(err,
// wasmactor.ErrMailboxFull)).
type Refusal struct {
	PID PID
	Err error
}

// SendGroup sends msg one way to every member of a group, wherever it
// runs, and says how many it reached. A group without members is not an
// error.
//
// # Errors
//
// [wasmactor.ErrBadArgument] for an invalid group name,
// [wasmactor.ErrTooLarge].
func (c *Client) SendGroup(ctx context.Context, group string, msg any) (GroupSendResult, error) {
	payload, err := encode(msg)
	if err != nil {
		return GroupSendResult{}, err
	}
	var rep proto.GroupSendReply
	if err := c.request(ctx, proto.KindSendGroup, proto.Marshal(proto.GroupMessage{Group: group, Payload: payload}), &rep); err != nil {
		return GroupSendResult{}, err
	}
	r := GroupSendResult{Members: rep.Members, Sent: rep.Sent, Refused: rep.Refused}
	for _, x := range rep.Refusals {
		re := &transport.RemoteError{Code: x.Code, Message: x.Message}
		r.Refusals = append(r.Refusals, Refusal{PID: x.PID, Err: &remoteError{re: re, sentinel: abi.Errno(x.Code).Err()}})
	}
	return r, nil
}
