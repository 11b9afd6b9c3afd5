package host

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/abi"
	"github.com/wasmactor/wasmactor/internal/proto"
	"github.com/wasmactor/wasmactor/registry"
	"github.com/wasmactor/wasmactor/transport"
)

func (n *Node) serve(ctx context.Context, from transport.PeerInfo, req transport.Control) (_ []byte, err error) {
	if err := n.checkOpen(); err != nil {
		return nil, err
	}
	if req.Kind >= proto.KindDeploy && !from.Client && req.Kind != proto.KindLocalPs && req.Kind != proto.KindStatus {
		return nil, fmt.Errorf("%w: control kind %d is for clients", wasmactor.ErrBadArgument, req.Kind)
	}
	// A client's role first; its token's factories and names once the
	// body says which actor the request is about (access.go).
	if err := n.permit(from, req.Kind); err != nil {
		return nil, err
	}
	switch req.Kind {
	case proto.KindSpawn:
		var s proto.Spawn
		if err := proto.Unmarshal(req.Body, &s); err != nil {
			return nil, err
		}
		if n.tracer != nil {
			var span trace.Span
			ctx, span = n.startSpan(parseTrace(s.Trace).context(ctx), spanSpawn, trace.SpanKindServer, attrFactory.String(s.Factory))
			defer func() { endSpan(span, err) }()
		}
		// The module and holder the requester resolved the factory to are
		// hints for the pull, not announcements: the requester speaks for no
		// holder, and the factory list is derived from the module here.
		if s.Module != nil && !n.factories.Checked(s.Module.Hash) {
			if err := s.Module.Validate(); err != nil {
				return nil, err
			}
			if _, err := n.module(ctx, *s.Module, s.Holder); err != nil {
				return nil, err
			}
		}
		a, err := n.spawnLocal(ctx, spawnSpec{factory: s.Factory, args: s.Args, isolated: s.Isolated, restart: s.Restart, name: s.Name, holder: s.Holder})
		if err != nil {
			return nil, err
		}
		return proto.Marshal(proto.SpawnReply{PID: n.pidOf(a)}), nil

	case proto.KindFactoryOf:
		var r proto.ActorRef
		if err := proto.Unmarshal(req.Body, &r); err != nil {
			return nil, err
		}
		rep, err := n.localFactory(r)
		if err != nil {
			return nil, err
		}
		return proto.Marshal(rep), nil

	case proto.KindStatus:
		return proto.Marshal(n.status()), nil

	case proto.KindGroupChange:
		var c proto.GroupChange
		if err := proto.Unmarshal(req.Body, &c); err != nil {
			return nil, err
		}
		return proto.Marshal(proto.Empty{}), n.serveGroupChange(c)

	case proto.KindNodeEvents:
		var r proto.NodeEventsRequest
		if err := proto.Unmarshal(req.Body, &r); err != nil {
			return nil, err
		}
		return n.serveNodeEvents(ctx, r)

	case proto.KindGroups:
		var r proto.GroupsRequest
		if err := proto.Unmarshal(req.Body, &r); err != nil {
			return nil, err
		}
		out := []proto.GroupInfo{}
		if r.Group != "" {
			if err := registry.ValidateName(r.Group); err != nil {
				return nil, err
			}
			if ms := n.groups.Members(r.Group); len(ms) > 0 {
				out = append(out, proto.GroupInfo{Group: r.Group, Members: ms})
			}
			return proto.Marshal(out), nil
		}
		for _, g := range n.Groups() {
			out = append(out, proto.GroupInfo{Group: g.Name, Members: g.Members})
		}
		return proto.Marshal(out), nil

	case proto.KindSendGroup:
		var m proto.GroupMessage
		if err := proto.Unmarshal(req.Body, &m); err != nil {
			return nil, err
		}
		if err := n.permitGroupSend(from, m.Group); err != nil {
			return nil, err
		}
		r, err := n.SendGroup(ctx, m.Group, CBOR(m.Payload))
		if err != nil {
			return nil, err
		}
		rep := proto.GroupSendReply{Members: r.Members, Sent: r.Sent, Refused: r.Refused}
		for _, x := range r.Refusals {
			rep.Refusals = append(rep.Refusals, proto.Refusal{PID: x.PID, Code: uint16(abi.CodeOf(x.Err)), Message: x.Err.Error()})
		}
		return proto.Marshal(rep), nil

	case proto.KindLocalPs:
		var r proto.PsRequest
		if err := proto.Unmarshal(req.Body, &r); err != nil {
			return nil, err
		}
		return proto.Marshal(n.localPage(r.After.Serial, r.PageBytes())), nil

	case proto.KindDeploy:
		info, err := n.Deploy(ctx, req.Body)
		if err != nil {
			return nil, err
		}
		return proto.Marshal(info), nil

	case proto.KindDeployOpen:
		var o proto.DeployOpen
		if err := proto.Unmarshal(req.Body, &o); err != nil {
			return nil, err
		}
		opened, err := n.openUpload(from, o.Size)
		if err != nil {
			return nil, err
		}
		return proto.Marshal(opened), nil

	case proto.KindDeployChunk:
		var c proto.DeployChunk
		if err := proto.Unmarshal(req.Body, &c); err != nil {
			return nil, err
		}
		return proto.Marshal(proto.Empty{}), n.uploadChunk(from, c)

	case proto.KindDeployCommit:
		var c proto.DeployCommit
		if err := proto.Unmarshal(req.Body, &c); err != nil {
			return nil, err
		}
		wasm, err := n.commitUpload(from, c)
		if err != nil {
			return nil, err
		}
		info, err := n.Deploy(ctx, wasm)
		if err != nil {
			return nil, err
		}
		return proto.Marshal(info), nil

	case proto.KindDeployAbort:
		var c proto.DeployCommit
		if err := proto.Unmarshal(req.Body, &c); err != nil {
			return nil, err
		}
		return proto.Marshal(proto.Empty{}), n.abortUploadOf(from, c.ID)

	case proto.KindDraining:
		if from.Client {
			return nil, fmt.Errorf("%w: only a node says it drains", wasmactor.ErrBadArgument)
		}
		var d proto.Draining
		if err := proto.Unmarshal(req.Body, &d); err != nil {
			return nil, err
		}
		n.markDraining(from.NodeInfo, !d.Off)
		return proto.Marshal(proto.Empty{}), nil

	case proto.KindUndrain, proto.KindUndrainCLI:
		var d proto.Drain
		if err := proto.Unmarshal(req.Body, &d); err != nil {
			return nil, err
		}
		node := d.Node
		if req.Kind == proto.KindUndrain {
			node = n.cfg.Name // a peer asks this node to undrain itself
		}
		return proto.Marshal(proto.Empty{}), n.Undrain(ctx, node)

	case proto.KindModuleChunk:
		var r proto.ModuleChunkRequest
		if err := proto.Unmarshal(req.Body, &r); err != nil {
			return nil, err
		}
		c, err := n.serveChunk(ctx, r)
		if err != nil {
			return nil, err
		}
		return proto.Marshal(c), nil

	case proto.KindSpawnCLI:
		var s proto.Spawn
		if err := proto.Unmarshal(req.Body, &s); err != nil {
			return nil, err
		}
		if err := n.permitSpawn(from, s.Factory, s.Name); err != nil {
			return nil, err
		}
		var args any
		if len(s.Args) > 0 {
			args = CBOR(s.Args)
		}
		pid, err := n.Spawn(ctx, s.Factory, SpawnOptions{Name: s.Name, Args: args, Isolated: s.Isolated, Restart: s.Restart, Node: s.Node})
		if err != nil {
			return nil, err
		}
		return proto.Marshal(proto.SpawnReply{PID: pid}), nil

	case proto.KindSend, proto.KindCall:
		var m proto.Message
		if err := proto.Unmarshal(req.Body, &m); err != nil {
			return nil, err
		}
		pid, err := n.target(ctx, m.Target)
		if err != nil {
			return nil, err
		}
		if err := n.permitTarget(ctx, from, req.Kind, m.Target, pid); err != nil {
			return nil, err
		}
		if req.Kind == proto.KindSend {
			return proto.Marshal(proto.Empty{}), n.Send(ctx, pid, CBOR(m.Payload))
		}
		if m.TimeoutMs > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, time.Duration(m.TimeoutMs)*time.Millisecond)
			defer cancel()
		}
		reply, err := n.Call(ctx, pid, CBOR(m.Payload))
		if err != nil {
			return nil, err
		}
		return proto.Marshal(proto.CallReply{Payload: reply}), nil

	case proto.KindKillActor:
		var t proto.Target
		if err := proto.Unmarshal(req.Body, &t); err != nil {
			return nil, err
		}
		pid, err := n.target(ctx, t.Target)
		if err != nil {
			return nil, err
		}
		if err := n.permitTarget(ctx, from, req.Kind, t.Target, pid); err != nil {
			return nil, err
		}
		return proto.Marshal(proto.Empty{}), n.Kill(ctx, pid, t.Reason)

	case proto.KindJoinSeeds:
		var s proto.Seeds
		if err := proto.Unmarshal(req.Body, &s); err != nil {
			return nil, err
		}
		if len(s.Addrs) == 0 || len(s.Addrs) > 64 {
			return nil, fmt.Errorf("%w: join takes 1 to 64 seeds", wasmactor.ErrBadArgument)
		}
		return proto.Marshal(proto.Empty{}), n.Join(ctx, s.Addrs...)

	case proto.KindPs:
		var r proto.PsRequest
		if err := proto.Unmarshal(req.Body, &r); err != nil {
			return nil, err
		}
		return proto.Marshal(n.clusterPage(ctx, r)), nil

	case proto.KindNodes:
		return proto.Marshal(n.nodes(ctx)), nil

	case proto.KindModules:
		return proto.Marshal(n.moduleStatuses(ctx)), nil
	}
	if b, ok, err := n.serveMobility(ctx, from, req.Kind, req.Body); ok {
		return b, err
	}
	return nil, fmt.Errorf("%w: unknown request kind %d", wasmactor.ErrBadArgument, req.Kind)
}

// target resolves a CLI target: a PID as printed (<n2.3f9a0c11d2e4b607.17>)
// or a registered name.
func (n *Node) target(ctx context.Context, s string) (PID, error) {
	if strings.HasPrefix(s, "<") {
		return wasmactor.ParsePID(s)
	}
	return n.Whereis(ctx, s)
}

// fanAnswer is one member's answer to a fanOut: its bytes, or why not.
type fanAnswer struct {
	node NodeInfo
	body []byte
	err  error
}

// fanOut asks every member the same question at once and returns one answer
// per member, in member order; a member that does not answer within two
// seconds has its error.
func (n *Node) fanOut(ctx context.Context, kind uint16) []fanAnswer {
	members := n.Members()
	out := make([]fanAnswer, len(members))
	var wg sync.WaitGroup
	for i, m := range members {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, memberTimeout)
			defer cancel()
			b, err := n.cl.tr.Call(cctx, m.Name, transport.Control{Kind: kind, Body: proto.Marshal(proto.Empty{})})
			out[i] = fanAnswer{node: m, body: b, err: fromRemote(err)}
		})
	}
	wg.Wait()
	return out
}
