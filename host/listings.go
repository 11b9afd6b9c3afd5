package host

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/abi"
	"github.com/wasmactor/wasmactor/internal/proto"
	"github.com/wasmactor/wasmactor/transport"
)

// Cluster-wide listings (`wasmactor ps`, `nodes`) never lie by omission: a
// listing is paged so no reply outgrows a frame however many actors or
// names there are, and a member that cannot answer its part is named in the
// reply with its error instead of being left out.

// memberTimeout bounds each member's answer to one listing request.
const memberTimeout = 2 * time.Second

// pageOverhead is room for a page's array heads, cursor and errors.
const pageOverhead = 1 << 10

// localPage lists this node's actors with serials after after, in serial
// order, up to budget encoded bytes (at least one actor per page).
func (n *Node) localPage(after uint64, budget int) proto.PsPage {
	var as []*actor
	for _, a := range n.actors.all() {
		if a.serial > after && !a.dead() {
			as = append(as, a)
		}
	}
	slices.SortFunc(as, func(x, y *actor) int { return cmpSerial(x.serial, y.serial) })
	page := proto.PsPage{Actors: []proto.ActorInfo{}}
	size := pageOverhead
	for _, a := range as {
		info := n.listedActor(a)
		size += len(proto.Marshal(info))
		if len(page.Actors) > 0 && size > budget {
			page.Next = &proto.PsCursor{Serial: page.Actors[len(page.Actors)-1].PID.Serial}
			break
		}
		page.Actors = append(page.Actors, info)
	}
	return page
}

func cmpSerial(x, y uint64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// listedActor is a as listings show it: at most proto.MaxNamesListed
// names, and their number when there are more. A Go actor has no module or
// instance.
func (n *Node) listedActor(a *actor) proto.ActorInfo {
	pid := n.pidOf(a)
	info := proto.ActorInfo{PID: pid, Factory: a.factory, Names: n.names.Of(pid), Mailbox: a.quota.Outstanding(),
		Restarts: a.restartCount(), Refused: a.refusedCount()}
	if a.goa == nil {
		info.Module, info.Instance = a.mod.Load().info.Hash.String(), a.inst.Load().id
	}
	if len(info.Names) > proto.MaxNamesListed {
		info.NamesTotal = len(info.Names)
		info.Names = info.Names[:proto.MaxNamesListed]
	}
	return info
}

// clusterPage answers one page of a cluster-wide ps: the actors of every
// node (this one and its members) in order of node name, then serial,
// from req.After on. A node's part comes from its own pages (KindLocalPs),
// so no single reply grows with the cluster; a member that fails to
// answer is reported in Errors and the listing goes on with the next node.
func (n *Node) clusterPage(ctx context.Context, req proto.PsRequest) proto.PsPage {
	budget := req.PageBytes()
	names := []string{n.cfg.Name}
	for _, m := range n.Members() {
		names = append(names, m.Name)
	}
	sort.Strings(names)
	out := proto.PsPage{Actors: []proto.ActorInfo{}}
	cur := req.After
	if cur.Node != "" && cur.Serial > 0 && !slices.Contains(names, cur.Node) {
		// A node that left mid-listing: the rest of its actors are unlisted.
		out.Errors = append(out.Errors, nodeError(cur.Node,
			fmt.Errorf("%w: it left during the listing; its actors after serial %d are not listed", wasmactor.ErrNodeDown, cur.Serial)))
	}
	size := pageOverhead
	for _, name := range names {
		if name < cur.Node {
			continue
		}
		var after uint64
		if name == cur.Node {
			after = cur.Serial
		}
		if budget-size < proto.MinPageBytes && len(out.Actors) > 0 {
			out.Next = &proto.PsCursor{Node: name, Serial: after}
			return out
		}
		page, bytes, err := n.nodePage(ctx, name, after, max(budget-size, proto.MinPageBytes))
		if err != nil {
			out.Errors = append(out.Errors, nodeError(name, err))
			continue
		}
		out.Actors = append(out.Actors, page.Actors...)
		size += bytes
		if page.Next != nil { // more than fitted: the next page goes on there
			out.Next = &proto.PsCursor{Node: name, Serial: page.Next.Serial}
			return out
		}
	}
	return out
}

// nodePage is one page of node name's actors and its encoded size.
func (n *Node) nodePage(ctx context.Context, name string, after uint64, budget int) (proto.PsPage, int, error) {
	if name == n.cfg.Name {
		page := n.localPage(after, budget)
		return page, len(proto.Marshal(page)), nil
	}
	ctx, cancel := context.WithTimeout(ctx, memberTimeout)
	defer cancel()
	b, err := n.cl.tr.Call(ctx, name, transport.Control{Kind: proto.KindLocalPs,
		Body: proto.Marshal(proto.PsRequest{After: proto.PsCursor{Serial: after}, MaxBytes: budget})})
	if err != nil {
		return proto.PsPage{}, 0, fromRemote(err)
	}
	var page proto.PsPage
	if err := proto.Unmarshal(b, &page); err != nil {
		return proto.PsPage{}, 0, fmt.Errorf("malformed reply: %w", err)
	}
	if page.Next != nil && page.Next.Serial <= after {
		return proto.PsPage{}, 0, errors.New("its listing does not advance")
	}
	return page, len(b), nil
}

// nodeError is err as a listing reports it for node.
func nodeError(node string, err error) proto.NodeError {
	return proto.NodeError{Node: node, Code: uint16(abi.CodeOf(err)), Message: err.Error()}
}

// memberStatus is one member's answer to a status request, or why not.
type memberStatus struct {
	node NodeInfo
	st   proto.NodeStatus
	err  error
}

// memberStatuses asks every member for its status at once.
func (n *Node) memberStatuses(ctx context.Context) []memberStatus {
	var out []memberStatus
	for _, a := range n.fanOut(ctx, proto.KindStatus) {
		ms := memberStatus{node: a.node, err: a.err}
		if ms.err == nil {
			ms.err = proto.Unmarshal(a.body, &ms.st)
		}
		out = append(out, ms)
	}
	return out
}

// nodes is the reply of `wasmactor nodes`: this node's status and every
// member's; a member that does not answer is in Errors.
func (n *Node) nodes(ctx context.Context) proto.NodesReply {
	out := proto.NodesReply{Nodes: []proto.NodeStatus{n.status()}}
	for _, ms := range n.memberStatuses(ctx) {
		if ms.err != nil {
			out.Errors = append(out.Errors, nodeError(ms.node.Name, ms.err))
			continue
		}
		out.Nodes = append(out.Nodes, ms.st)
	}
	sort.Slice(out.Nodes, func(i, j int) bool { return out.Nodes[i].Name < out.Nodes[j].Name })
	return out
}
