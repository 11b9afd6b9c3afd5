package host_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor/host"
	"github.com/wasmactor/wasmactor/internal/abi"
	"github.com/wasmactor/wasmactor/internal/proto"
	"github.com/wasmactor/wasmactor/transport"
)

// psPages lists the cluster through c page by page, as the CLI does.
func psPages(t *testing.T, c transport.Client, maxBytes int) (actors []proto.ActorInfo, errs []proto.NodeError, pages int) {
	t.Helper()
	req := proto.PsRequest{MaxBytes: maxBytes}
	for {
		var page proto.PsPage
		require.NoError(t, rpc(t, c, proto.KindPs, req, &page))
		pages++
		actors = append(actors, page.Actors...)
		errs = append(errs, page.Errors...)
		if page.Next == nil {
			return actors, errs, pages
		}
		require.NotEqual(t, req.After, *page.Next, "the cursor advances")
		req.After = *page.Next
	}
}

// A cluster-wide ps comes in bounded pages that together list every actor
// once, in order of node, then serial, across node boundaries.
func TestPsPagesListEveryActorOnce(t *testing.T) {
	c := newCluster(t, 2, host.Config{})
	n1, n2 := c.nodes[0], c.nodes[1]
	ctx := ctxT(t)
	deploy(t, n1, fixture(t, "minimal_actor.wasm"))
	require.Eventually(t, func() bool { return len(n2.Modules()) == 1 }, 5*time.Second, 5*time.Millisecond)
	var want []host.PID
	for i := range 600 {
		node := "n1"
		if i%3 != 0 {
			node = "n2"
		}
		pid, err := n1.Spawn(ctx, "Echo", host.SpawnOptions{Node: node})
		require.NoError(t, err)
		want = append(want, pid)
	}
	client, err := c.net.Dial(ctx, "n1")
	require.NoError(t, err)
	defer client.Close()

	actors, errs, pages := psPages(t, client, proto.MinPageBytes)
	require.Empty(t, errs)
	require.Greater(t, pages, 3, "600 actors do not fit in one 16 KiB page")
	got := make([]host.PID, 0, len(actors))
	for i, a := range actors {
		got = append(got, a.PID)
		if i > 0 {
			require.True(t, actors[i-1].PID.Less(a.PID), "in order, no repeats: %s then %s", actors[i-1].PID, a.PID)
		}
	}
	require.ElementsMatch(t, want, got)
}

// A member that cannot answer its part of a listing is named in the reply
// with its error; the listing goes on with the other nodes. On main it was
// left out silently.
func TestListingsReportNodesThatCannotAnswer(t *testing.T) {
	c := newHookedCluster(t, 3, func(int) host.Config { return host.Config{} }, func(i int, tr transport.Transport) transport.Transport {
		if i != 1 {
			return tr
		}
		return &hookTransport{Transport: tr, call: func(_ transport.PeerInfo, req transport.Control) ([]byte, error, bool) {
			if req.Kind == proto.KindLocalPs || req.Kind == proto.KindStatus {
				return nil, errors.New("out of order"), true
			}
			return nil, nil, false
		}}
	})
	n1 := c.nodes[0]
	ctx := ctxT(t)
	deploy(t, n1, fixture(t, "minimal_actor.wasm"))
	for _, n := range c.nodes {
		require.Eventually(t, func() bool { return len(n.Modules()) == 1 }, 5*time.Second, 5*time.Millisecond)
		_, err := n1.Spawn(ctx, "Echo", host.SpawnOptions{Node: n.Name()})
		require.NoError(t, err)
	}
	client, err := c.net.Dial(ctx, "n1")
	require.NoError(t, err)
	defer client.Close()

	actors, errs, _ := psPages(t, client, 0)
	require.Len(t, actors, 2)
	require.Equal(t, "n1", actors[0].PID.Node)
	require.Equal(t, "n3", actors[1].PID.Node)
	require.Len(t, errs, 1)
	require.Equal(t, "n2", errs[0].Node)
	require.Contains(t, errs[0].Message, "out of order")

	var nodes proto.NodesReply
	require.NoError(t, rpc(t, client, proto.KindNodes, proto.Empty{}, &nodes))
	require.Len(t, nodes.Nodes, 2)
	require.Equal(t, []proto.NodeError{{Node: "n2", Code: uint16(abi.CodeOf(errors.New("out of order"))), Message: "out of order"}}, nodes.Errors)
}

// An actor's names are listed up to proto.MaxNamesListed, with their
// number: one actor cannot make a page outgrow a frame.
func TestPsListsAtMost32NamesAndTheirNumber(t *testing.T) {
	c := newCluster(t, 1, host.Config{Limits: host.Limits{NamesPerActor: 100}}) // 16 by default
	n1 := c.nodes[0]
	ctx := ctxT(t)
	deploy(t, n1, fixture(t, "minimal_actor.wasm"))
	pid, err := n1.Spawn(ctx, "Echo", host.SpawnOptions{})
	require.NoError(t, err)
	for i := range 100 {
		require.NoError(t, n1.Register(ctx, fmt.Sprintf("name-%03d", i), pid))
	}
	client, err := c.net.Dial(ctx, "n1")
	require.NoError(t, err)
	defer client.Close()
	actors, errs, _ := psPages(t, client, 0)
	require.Empty(t, errs)
	require.Len(t, actors, 1)
	require.Len(t, actors[0].Names, proto.MaxNamesListed)
	require.Equal(t, "name-000", actors[0].Names[0])
	require.Equal(t, 100, actors[0].NamesTotal)
	require.Len(t, n1.Actors()[0].Names, 100, "the Go API lists them all")
}

// A Go actor (SpawnFunc) is listed like any actor, with no module or
// instance.
func TestPsListsGoActors(t *testing.T) {
	c := newCluster(t, 2, host.Config{})
	ctx := ctxT(t)
	g, err := c.nodes[1].SpawnFunc(ctx, "go-actor", func(*host.ActorContext, host.Message) error { return nil })
	require.NoError(t, err)
	client, err := c.net.Dial(ctx, "n1")
	require.NoError(t, err)
	defer client.Close()
	actors, errs, _ := psPages(t, client, 0)
	require.Empty(t, errs)
	require.Len(t, actors, 1)
	require.Equal(t, g, actors[0].PID)
	require.Empty(t, actors[0].Module)
	require.Equal(t, []string{"go-actor"}, actors[0].Names)
}
