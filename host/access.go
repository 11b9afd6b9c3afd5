package host

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/proto"
	"github.com/wasmactor/wasmactor/token"
	"github.com/wasmactor/wasmactor/transport"
)

// What a client may ask, by the role its cookie or token proved
// (transport.PeerInfo.Grant). Nodes are members and are not checked: a
// peer is trusted with everything it owns (see handler.go).

// requestRoles is the least role a client needs for each request kind.
// Kinds not listed need admin: node-to-node requests a client has no use
// for, and any kind added later until someone decides otherwise.
var requestRoles = map[uint16]token.Role{
	proto.KindPs:         token.Viewer,
	proto.KindLocalPs:    token.Viewer,
	proto.KindNodes:      token.Viewer,
	proto.KindStatus:     token.Viewer,
	proto.KindModules:    token.Viewer,
	proto.KindNodeEvents: token.Viewer,
	proto.KindGroups:     token.Viewer,
	proto.KindSpawnCLI:   token.Operator,
	proto.KindSendGroup:  token.Operator, // and an unscoped token (permitGroupSend)
	proto.KindSend:       token.Operator,
	proto.KindCall:       token.Operator,
	proto.KindKillActor:  token.Operator,
	proto.KindDeploy:     token.Admin,
	proto.KindJoinSeeds:  token.Admin,
	// A deploy in chunks (transfer.go) is a deploy.
	proto.KindDeployOpen:   token.Admin,
	proto.KindDeployChunk:  token.Admin,
	proto.KindDeployCommit: token.Admin,
	proto.KindDeployAbort:  token.Admin,
	// Code mobility changes what code runs and where, as a deploy does,
	// and reaches actors a token's factories and names caveats do not
	// name (a drain moves every actor of a node): admin, like deploy (see
	// RATIONALE, "Who may move code"). Listed, not left to the default,
	// so the decision is written where it is made.
	proto.KindUpgradeCLI:  token.Admin,
	proto.KindUpgradePlan: token.Admin,
	proto.KindMigrateCLI:  token.Admin,
	proto.KindDrainCLI:    token.Admin,
	proto.KindUndrainCLI:  token.Admin,
	proto.KindUndeployCLI: token.Admin,
}

var requestNames = map[uint16]string{
	proto.KindPs: "ps", proto.KindLocalPs: "ps", proto.KindNodes: "nodes", proto.KindStatus: "status",
	proto.KindModules: "modules", proto.KindSpawnCLI: "spawn", proto.KindSend: "send", proto.KindCall: "call",
	proto.KindKillActor: "kill", proto.KindDeploy: "deploy", proto.KindJoinSeeds: "join",
	proto.KindNodeEvents: "nodes --watch", proto.KindGroups: "groups", proto.KindSendGroup: "send to a group",
	proto.KindUpgradeCLI: "upgrade", proto.KindUpgradePlan: "upgrade --factory", proto.KindMigrateCLI: "migrate",
	proto.KindDrainCLI: "drain", proto.KindUndeployCLI: "undeploy",
	proto.KindDeployOpen: "deploy", proto.KindDeployChunk: "deploy", proto.KindDeployCommit: "deploy",
	proto.KindDeployAbort: "deploy", proto.KindUndrainCLI: "undrain",
}

func requestName(kind uint16) string {
	if s, ok := requestNames[kind]; ok {
		return s
	}
	return fmt.Sprintf("request kind %d", kind)
}

// refuse logs a refused client request and returns its error, which
// matches wasmactor.ErrPermission.
func (n *Node) refuse(from transport.PeerInfo, format string, args ...any) error {
	err := fmt.Errorf("%w: "+format, append([]any{wasmactor.ErrPermission}, args...)...)
	n.log.Info("client request refused", "client", from.Name, "addr", from.Addr, "token", from.Grant.ID, "err", err)
	return err
}

// permitRole checks that a client's grant has not expired and includes
// role; what names the request in the error.
func (n *Node) permitRole(from transport.PeerInfo, role token.Role, what string) error {
	if !from.Client {
		return nil
	}
	g := from.Grant
	if g.Expired(time.Now()) {
		return n.refuse(from, "token %s expired at %s", g.ID, g.Expires.UTC().Format(time.RFC3339))
	}
	if !g.Allows(role) {
		return n.refuse(from, "%s needs role %s; the token's role is %s", what, role, g.Role)
	}
	return nil
}

// permit checks a client request's kind against its grant: expiry and
// role. Requests on particular actors are checked further once their
// body is decoded (permitSpawn, permitTarget).
func (n *Node) permit(from transport.PeerInfo, kind uint16) error {
	role, ok := requestRoles[kind]
	if !ok {
		role = token.Admin
	}
	return n.permitRole(from, role, requestName(kind))
}

// permitSpawn checks a client's spawn against its token's factories and
// names. A token narrowed to names spawns only actors it names: an
// unnamed actor would be out of its reach as soon as it started.
func (n *Node) permitSpawn(from transport.PeerInfo, factory, name string) error {
	g := from.Grant
	if !from.Client || !g.Scoped() {
		return nil
	}
	if !g.AllowsFactory(factory) {
		return n.refuse(from, "spawn of %s: the token allows factories %s", factory, patterns(g.Factories))
	}
	if len(g.Names) > 0 && name == "" {
		return n.refuse(from, "spawn of %s: the token allows only named actors (%s): give it a name", factory, patterns(g.Names))
	}
	if !g.AllowsName(name) {
		return n.refuse(from, "spawn of %s named %q: the token allows names %s", factory, name, patterns(g.Names))
	}
	return nil
}

// permitGroupSend refuses a send to a group to a token narrowed to
// factories or names: a group may hold any actor, on any node, and
// checking each member's factory would ask every node.
func (n *Node) permitGroupSend(from transport.PeerInfo, group string) error {
	if !from.Client || !from.Grant.Scoped() {
		return nil
	}
	return n.refuse(from, "send to group %s: the token is narrowed to factories or names, and a group may hold any actor", group)
}

// permitTarget checks that the actor a client addressed as target (PID
// text or a name, resolved to pid) is in its token's reach: it holds a
// name the token allows, and its factory is one the token allows. The
// factory of an actor on another node is asked of that node.
func (n *Node) permitTarget(ctx context.Context, from transport.PeerInfo, kind uint16, target string, pid PID) error {
	g := from.Grant
	if !from.Client || !g.Scoped() {
		return nil
	}
	if len(g.Names) > 0 {
		names := n.names.Of(pid)
		if !strings.HasPrefix(target, "<") {
			names = append(names, target)
		}
		if !g.AllowsAnyName(names) {
			return n.refuse(from, "%s %s: the actor holds no name the token allows (%s)", requestName(kind), target, patterns(g.Names))
		}
	}
	if len(g.Factories) > 0 {
		f, err := n.factoryOf(ctx, pid)
		if err != nil {
			return err
		}
		if !g.AllowsFactory(f) {
			return n.refuse(from, "%s %s: a %s actor; the token allows factories %s", requestName(kind), target, f, patterns(g.Factories))
		}
	}
	return nil
}

// factoryOf is the factory of a live actor, here or on its node.
func (n *Node) factoryOf(ctx context.Context, pid PID) (string, error) {
	a, _, err := n.local(pid)
	if err != nil {
		return "", err
	}
	if a != nil {
		return a.factory, nil
	}
	var rep proto.FactoryReply
	err = n.call(ctx, pid.Node, proto.KindFactoryOf, proto.ActorRef{Serial: pid.Serial, ToIncarnation: pid.Incarnation}, &rep)
	return rep.Factory, err
}

// localFactory answers a peer's KindFactoryOf.
func (n *Node) localFactory(r proto.ActorRef) (proto.FactoryReply, error) {
	if r.ToIncarnation != n.incarnation {
		return proto.FactoryReply{}, fmt.Errorf("%w: an actor of incarnation %s", wasmactor.ErrStaleIncarnation, wasmactor.FormatIncarnation(r.ToIncarnation))
	}
	// A serial's factory never changes, so an actor being restarted has one.
	a := n.actors.get(r.Serial)
	if a == nil {
		return proto.FactoryReply{}, fmt.Errorf("%w: serial %d", wasmactor.ErrNoProc, r.Serial)
	}
	return proto.FactoryReply{Factory: a.factory}, nil
}

// patterns prints a grant's pattern lists for an error message.
func patterns(sets [][]string) string {
	out := make([]string, len(sets))
	for i, s := range sets {
		out[i] = strings.Join(s, "|")
	}
	return strings.Join(out, " and ")
}
