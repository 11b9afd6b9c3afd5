package host_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/host"
	"github.com/wasmactor/wasmactor/internal/abi"
	"github.com/wasmactor/wasmactor/internal/proto"
	"github.com/wasmactor/wasmactor/registry"
	"github.com/wasmactor/wasmactor/transport"
)

// rogue is a cluster member that holds the cookie and misbehaves: a bare
// transport whose control messages the test writes by hand.
type rogue struct {
	tr      transport.Transport
	info    transport.NodeInfo
	markers uint64 // serials of marker claims, see sync

	mu    sync.Mutex
	blobs map[string][]byte // what ServeBlob answers, by key
	// If set before the rogue joins: each chunk request is reported on
	// asked, then answered once gate is closed (with an error).
	asked chan registry.Hash
	gate  chan struct{}
	// chunk, if not 0, is the size of the chunks the rogue serves.
	chunk int64
}

// addRogue joins a rogue member named name to c and waits until every node
// of c sees it.
func (c *testCluster) addRogue(t *testing.T, name string, incarnation uint64) *rogue {
	t.Helper()
	return c.joinRogue(t, &rogue{tr: c.net.NewNode(name, incarnation), blobs: map[string][]byte{}})
}

// joinRogue joins r, made by the caller, to c (see addRogue).
func (c *testCluster) joinRogue(t *testing.T, r *rogue) *rogue {
	t.Helper()
	r.info = r.tr.Self()
	ctx := ctxT(t)
	require.NoError(t, r.tr.Start(ctx, r))
	require.NoError(t, r.tr.Join(ctx, []string{"n1"}))
	t.Cleanup(func() { _ = r.tr.Close() })
	require.Eventually(t, func() bool {
		for _, n := range c.nodes {
			if len(n.Members()) != len(c.nodes) {
				return false
			}
		}
		return true
	}, 10*time.Second, 5*time.Millisecond, "every node sees the rogue")
	return r
}

func (r *rogue) pid(serial uint64) host.PID {
	return host.PID{Node: r.info.Name, Incarnation: r.info.Incarnation, Serial: serial}
}

// cast sends one control message to node, with body as given (a struct, or
// a map for bodies the proto types cannot express).
func (r *rogue) cast(t *testing.T, node string, kind uint16, body any) {
	t.Helper()
	require.NoError(t, r.tr.Cast(node, transport.Control{Kind: kind, Body: proto.Marshal(body)}))
}

// sync returns once n has handled everything r cast to it so far: casts
// are handled in order, so r puts one of its own actors in a fresh group
// (which any node accepts) and waits until n knows it.
func (r *rogue) sync(t *testing.T, n *host.Node) {
	t.Helper()
	r.markers++
	group := fmt.Sprintf("marker-%d", r.markers)
	r.cast(t, n.Name(), proto.KindJoin, proto.GroupRef{Group: group, PID: r.pid(1_000_000 + r.markers)})
	require.Eventually(t, func() bool {
		m, _ := n.GroupMembers(context.Background(), group)
		return len(m) == 1
	}, 10*time.Second, time.Millisecond, "%s handles the rogue's casts", n.Name())
}

// serve makes r hold wasm: it answers fetches of it.
func (r *rogue) serve(wasm []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.blobs[registry.HashOf(wasm).String()] = wasm
}

func (r *rogue) HandleEnvelopes(transport.NodeInfo, []transport.Envelope) {}
func (r *rogue) HandleCast(transport.NodeInfo, transport.Control)         {}
func (r *rogue) NodeUp(transport.NodeInfo)                                {}
func (r *rogue) NodeDown(transport.NodeInfo, error)                       {}

// HandleCall answers only pulls of the modules r serves, in chunks.
func (r *rogue) HandleCall(_ context.Context, _ transport.PeerInfo, req transport.Control) ([]byte, error) {
	if req.Kind != proto.KindModuleChunk {
		return nil, errors.New("rogue: no calls")
	}
	var c proto.ModuleChunkRequest
	if err := proto.Unmarshal(req.Body, &c); err != nil {
		return nil, err
	}
	if r.gate != nil {
		r.asked <- c.Hash
		<-r.gate
		return nil, errors.New("rogue: gate closed")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	b, ok := r.blobs[c.Hash.String()]
	if !ok || c.Offset < 0 || c.Offset > int64(len(b)) {
		return nil, errors.New("rogue: no such blob")
	}
	chunk := int64(proto.ChunkSize)
	if r.chunk != 0 {
		chunk = r.chunk
	}
	data := b[c.Offset:min(int64(len(b)), c.Offset+chunk)]
	return proto.Marshal(proto.ModuleChunk{Size: int64(len(b)), Offset: c.Offset, Data: data}), nil
}

func (r *rogue) ServeBlob(_ context.Context, _ transport.PeerInfo, key string) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if b, ok := r.blobs[key]; ok {
		return b, nil
	}
	return nil, errors.New("rogue: no such blob")
}

// echoNamed spawns an Echo actor (testdata/minimal_actor.wasm, deployed on
// n1 by the caller) on node with a name, and waits until every node of c
// knows the name.
func (c *testCluster) echoNamed(t *testing.T, node int, name string) host.PID {
	t.Helper()
	n := c.nodes[node]
	pid, err := n.Spawn(ctxT(t), "Echo", host.SpawnOptions{Node: n.Name(), Name: name})
	require.NoError(t, err)
	c.waitName(t, name, pid)
	return pid
}

// waitName waits until every node of c resolves name to pid.
func (c *testCluster) waitName(t *testing.T, name string, pid host.PID) {
	t.Helper()
	require.Eventually(t, func() bool {
		for _, n := range c.nodes {
			if got, err := n.Whereis(context.Background(), name); err != nil || got != pid {
				return false
			}
		}
		return true
	}, 10*time.Second, time.Millisecond, "every node resolves %q to %s", name, pid)
}

func newEchoCluster(t *testing.T, size int) *testCluster {
	t.Helper()
	c := newCluster(t, size, host.Config{})
	deploy(t, c.nodes[0], fixture(t, "minimal_actor.wasm"))
	require.Eventually(t, func() bool {
		for _, n := range c.nodes {
			if len(n.Modules()) != 1 {
				return false
			}
		}
		return true
	}, 10*time.Second, time.Millisecond)
	for _, n := range c.nodes[1:] { // every node holds the module
		_, err := n.Spawn(ctxT(t), "Echo", host.SpawnOptions{Node: n.Name()})
		require.NoError(t, err)
	}
	return c
}

// TestPeerCannotUnregisterAnotherNodesName: a peer's name release counts
// only for its own actors; one for another node's actor is ignored on every
// node, the holder's own included.
func TestPeerCannotUnregisterAnotherNodesName(t *testing.T) {
	c := newEchoCluster(t, 2)
	svc := c.echoNamed(t, 0, "svc")
	r := c.addRogue(t, "rogue", 77)

	for _, n := range c.nodes {
		r.cast(t, n.Name(), proto.KindUnname, proto.NameRef{Name: "svc", PID: svc})
		r.sync(t, n)
		got, err := n.Whereis(ctxT(t), "svc")
		require.NoError(t, err, "on %s", n.Name())
		require.Equal(t, svc, got, "on %s", n.Name())
	}
	require.Equal(t, []string{"svc"}, c.nodes[0].Actors()[0].Names, "the holder's node keeps it too")
	require.Equal(t, svc, c.nodes[0].Actors()[0].PID)

	// Its own names it may release.
	mine := r.pid(1)
	for _, n := range c.nodes {
		r.cast(t, n.Name(), proto.KindName, registry.Claim{Name: "mine", PID: mine})
		r.cast(t, n.Name(), proto.KindUnname, proto.NameRef{Name: "mine", PID: mine})
		r.sync(t, n)
		_, err := n.Whereis(ctxT(t), "mine")
		require.ErrorIs(t, err, wasmactor.ErrNotFound)
	}
}

// rogueName returns a node name whose claim on name precedes (or not, as
// wanted) the claim of an actor of node other: which name wins a concurrent
// race is fixed by the node names.
func rogueName(t *testing.T, name, other string, precedes bool) string {
	t.Helper()
	theirs := registry.Claim{Name: name, PID: host.PID{Node: other, Incarnation: 1, Serial: 1}}
	for i := range 64 {
		node := fmt.Sprintf("rogue%d", i)
		if (registry.Claim{Name: name, PID: host.PID{Node: node, Incarnation: 1, Serial: 1}}).Precedes(theirs) == precedes {
			return node
		}
	}
	t.Fatal("no such node name among 64")
	return ""
}

// backDated is a claim as an older peer would send it, with a registration
// time (key 3) from the distant past.
func backDated(name string, pid host.PID) map[int]any {
	return map[int]any{1: name, 2: pid, 3: int64(1)}
}

// TestBackDatedClaimDoesNotTakeAName: a claim's registration time used to
// decide conflicts (the earliest won), and the claimer picks it. Now it
// counts for nothing: within the race window the tie-break of node names
// decides, and this rogue loses it.
func TestBackDatedClaimDoesNotTakeAName(t *testing.T) {
	c := newEchoCluster(t, 2)
	svc := c.echoNamed(t, 0, "svc")
	r := c.addRogue(t, rogueName(t, "svc", "n1", false), 77)

	for _, n := range c.nodes {
		r.cast(t, n.Name(), proto.KindName, backDated("svc", r.pid(1)))
		r.sync(t, n)
	}
	c.waitName(t, "svc", svc)
}

// TestEstablishedNameStaysWithTheIncumbent: once a name is established
// (announced longer ago than the race window), a peer's conflicting claim
// does not take it, even a back-dated claim of a node that would win the
// tie-break of a concurrent race. The claim waits behind the holder and
// takes the name only when the holder lets go.
func TestEstablishedNameStaysWithTheIncumbent(t *testing.T) {
	c := newEchoCluster(t, 2)
	for _, n := range c.nodes {
		host.SetNameRaceWindow(n, 0)
	}
	svc := c.echoNamed(t, 0, "svc")
	r := c.addRogue(t, rogueName(t, "svc", "n1", true), 77)

	for _, n := range c.nodes {
		r.cast(t, n.Name(), proto.KindName, backDated("svc", r.pid(1)))
		r.sync(t, n)
	}
	c.waitName(t, "svc", svc)

	// When the holder goes, the waiting claim takes the name everywhere.
	require.NoError(t, c.nodes[0].Stop(ctxT(t), svc))
	c.waitName(t, "svc", r.pid(1))
}

// TestConcurrentClaimsConvergeOnOneHolder: two nodes that cannot see each
// other register the same name; the third sees only one of them. After the
// heal every node holds the claim that precedes the other, and the loser's
// actor keeps running without the name.
func TestConcurrentClaimsConvergeOnOneHolder(t *testing.T) {
	c := newEchoCluster(t, 3)
	ctx := ctxT(t)
	c.net.Partition("n1", "n2")
	c.net.Partition("n1", "n3")
	require.Empty(t, c.nodes[0].Members())

	a, err := c.nodes[0].Spawn(ctx, "Echo", host.SpawnOptions{Node: "n1", Name: "leader"})
	require.NoError(t, err)
	b, err := c.nodes[1].Spawn(ctx, "Echo", host.SpawnOptions{Node: "n2", Name: "leader"})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		got, err := c.nodes[2].Whereis(ctx, "leader")
		return err == nil && got == b
	}, 10*time.Second, time.Millisecond, "n3 sees n2's claim first")

	c.net.Heal("n1", "n2")
	c.net.Heal("n1", "n3")
	c.waitMesh(t)
	winner, loser, loserNode := a, b, c.nodes[1]
	if (registry.Claim{Name: "leader", PID: b}).Precedes(registry.Claim{Name: "leader", PID: a}) {
		winner, loser, loserNode = b, a, c.nodes[0]
	}
	c.waitName(t, "leader", winner)
	require.Eventually(t, func() bool {
		for _, info := range loserNode.Actors() {
			if info.PID == loser {
				return len(info.Names) == 0
			}
		}
		return false
	}, 10*time.Second, time.Millisecond, "the loser's node dropped the name of its actor")
	reply, err := loserNode.Call(ctx, loser, "still here")
	require.NoError(t, err, "the losing actor keeps running")
	var s string
	require.NoError(t, reply.Decode(&s))
	require.Equal(t, "still here", s)
}

// moduleOf is the info a node derives from wasm, with another factory list.
func moduleOf(wasm []byte, deployedAt int64, factories ...string) registry.ModuleInfo {
	return registry.ModuleInfo{Hash: registry.HashOf(wasm), Size: int64(len(wasm)), Factories: factories, DeployedAt: deployedAt}
}

func moduleOn(t *testing.T, n *host.Node, h registry.Hash) (registry.ModuleInfo, bool) {
	t.Helper()
	for _, m := range n.Modules() {
		if m.Hash == h {
			return m, true
		}
	}
	return registry.ModuleInfo{}, false
}

func echo(t *testing.T, n *host.Node, pid host.PID) {
	t.Helper()
	reply, err := n.Call(ctxT(t), pid, "ping")
	require.NoError(t, err)
	var s string
	require.NoError(t, reply.Decode(&s))
	require.Equal(t, "ping", s)
}

// TestPeerCannotChangeTheFactoriesOfAModuleDeployedHere: a peer announces a
// real module's hash with a fake factory list before the module is deployed.
// The deploy still stores the module and lists its real factories, and later
// announcements change nothing. Before, the deploy returned the fake list and
// stored nothing, and spawning its factories failed on the deployer itself.
func TestPeerCannotChangeTheFactoriesOfAModuleDeployedHere(t *testing.T) {
	c := newCluster(t, 1, host.Config{})
	n1 := c.nodes[0]
	r := c.addRogue(t, "rogue", 77)
	wasm := fixture(t, "minimal_actor.wasm")
	fake := moduleOf(wasm, 1, "Evil")

	r.cast(t, "n1", proto.KindModule, proto.Module{Info: fake})
	r.sync(t, n1)
	info, err := n1.Deploy(ctxT(t), wasm)
	require.NoError(t, err)
	require.Equal(t, []string{"Echo"}, info.Factories)

	r.cast(t, "n1", proto.KindSync, proto.Sync{Modules: []registry.ModuleInfo{fake}})
	r.sync(t, n1)
	got, ok := moduleOn(t, n1, fake.Hash)
	require.True(t, ok)
	require.Equal(t, []string{"Echo"}, got.Factories)
	pid, err := n1.Spawn(ctxT(t), "Echo", host.SpawnOptions{})
	require.NoError(t, err)
	echo(t, n1, pid)
	_, err = n1.Spawn(ctxT(t), "Evil", host.SpawnOptions{})
	require.ErrorIs(t, err, wasmactor.ErrUnknownFactory)
}

// TestPulledModuleListsTheFactoriesOfItsBytes: a node that does not hold a
// module was told a fake factory list by a peer first, then the real one by
// the deployer. The fake list hides nothing, and once the node pulls the
// module it lists what the bytes export. Before, the first list stuck and
// the module's real factory could not be spawned there.
func TestPulledModuleListsTheFactoriesOfItsBytes(t *testing.T) {
	c := newCluster(t, 2, host.Config{})
	n1, n2 := c.nodes[0], c.nodes[1]
	r := c.addRogue(t, "rogue", 77)
	wasm := fixture(t, "minimal_actor.wasm")
	fake := moduleOf(wasm, 1, "Evil")

	r.cast(t, "n2", proto.KindSync, proto.Sync{Modules: []registry.ModuleInfo{fake}})
	r.sync(t, n2)
	deploy(t, n1, wasm)
	deploy(t, n1, fixture(t, "trap.wasm")) // announced after the first, on the same stream
	require.Eventually(t, func() bool { return len(n2.Modules()) == 2 }, 10*time.Second, time.Millisecond)

	pid, err := n2.Spawn(ctxT(t), "Echo", host.SpawnOptions{Node: "n2"})
	require.NoError(t, err)
	echo(t, n2, pid)
	require.Equal(t, uint64(1), n2.Pulls())
	got, _ := moduleOn(t, n2, fake.Hash)
	require.Equal(t, []string{"Echo"}, got.Factories, "derived from the pulled bytes")
	_, err = n2.Spawn(ctxT(t), "Evil", host.SpawnOptions{Node: "n2"})
	require.ErrorIs(t, err, wasmactor.ErrUnknownFactory)
}

// TestFakeFactoryListIsFoundOutOnSpawn: a peer announces a real module it
// holds (it exports "Bad") as exporting "Echo", newer than anything. A
// spawn of Echo that resolves to it finds out when the module is pulled and
// checked, and spawns the module that really exports Echo: locally, and
// from a node that resolves for another (a remote spawn). Before, the spawn
// started "Echo" in the wrong module, whose actor crashed at once.
func TestFakeFactoryListIsFoundOutOnSpawn(t *testing.T) {
	c := newCluster(t, 3, host.Config{})
	n1, n3 := c.nodes[0], c.nodes[2]
	r := c.addRogue(t, "rogue", 77)
	bad := fixture(t, "trap.wasm")
	r.serve(bad)
	lie := moduleOf(bad, 1<<62, "Echo")
	deploy(t, n1, fixture(t, "minimal_actor.wasm"))
	for _, n := range c.nodes {
		r.cast(t, n.Name(), proto.KindModule, proto.Module{Info: lie})
		require.Eventually(t, func() bool { return len(n.Modules()) == 2 }, 10*time.Second, time.Millisecond)
	}

	// n3 resolves for n2: n2 checks the module n3 named, n3 finds out.
	pid, err := n3.Spawn(ctxT(t), "Echo", host.SpawnOptions{Node: "n2"})
	require.NoError(t, err)
	echo(t, n3, pid)
	// n1 spawns locally: it pulls the announced module, checks it, and
	// resolves again.
	pid, err = n1.Spawn(ctxT(t), "Echo", host.SpawnOptions{Node: "n1"})
	require.NoError(t, err)
	echo(t, n1, pid)
	for _, n := range c.nodes {
		got, _ := moduleOn(t, n, lie.Hash)
		require.Equal(t, []string{"Bad"}, got.Factories, "on %s", n.Name())
	}
}

// TestSpawnRequestCannotAnnounceFactories: the module info a spawn request
// carries is a hint for the pull, not an announcement: the target derives
// the factory list from the bytes, and does not record the requester's word
// about who holds the module. Before, the requested factory was indexed as
// announced and started in a module that does not export it.
func TestSpawnRequestCannotAnnounceFactories(t *testing.T) {
	c := newCluster(t, 2, host.Config{})
	r := c.addRogue(t, "rogue", 77)
	bad := fixture(t, "trap.wasm") // exports "Bad"
	r.serve(bad)
	fake := moduleOf(bad, 1, "Evil")

	_, err := r.tr.Call(ctxT(t), "n2", transport.Control{Kind: proto.KindSpawn, Body: proto.Marshal(proto.Spawn{
		Factory: "Evil@" + fake.Hash.String(), Module: &fake, Holder: "rogue"})})
	var re *transport.RemoteError
	require.ErrorAs(t, err, &re)
	require.Equal(t, uint16(abi.CodeOf(wasmactor.ErrUnknownFactory)), re.Code, re.Message)
	got, _ := moduleOn(t, c.nodes[1], fake.Hash)
	require.Equal(t, []string{"Bad"}, got.Factories)
	require.Equal(t, []string{"n2"}, holders(t, c, "n2", fake.Hash), "the requester is not recorded as a holder")
}

// TestPeerAnnouncementsGoWithThePeer: when a peer goes down, it no longer
// holds anything here, and a module only it announced, never stored here,
// leaves the factory index.
func TestPeerAnnouncementsGoWithThePeer(t *testing.T) {
	c := newEchoCluster(t, 2)
	r := c.addRogue(t, "rogue", 77)
	echoHash := c.nodes[0].Modules()[0].Hash
	ghost := moduleOf([]byte("no such module"), 1, "Ghost")
	for _, n := range c.nodes {
		r.cast(t, n.Name(), proto.KindSync, proto.Sync{Modules: []registry.ModuleInfo{ghost, moduleOf(fixture(t, "minimal_actor.wasm"), 1, "Echo")}})
		r.sync(t, n)
		_, ok := moduleOn(t, n, ghost.Hash)
		require.True(t, ok)
	}
	require.Contains(t, holders(t, c, "n1", echoHash), "rogue")

	require.NoError(t, r.tr.Close())
	for _, n := range c.nodes {
		require.Eventually(t, func() bool {
			_, ok := moduleOn(t, n, ghost.Hash)
			return !ok && len(n.Members()) == 1
		}, 10*time.Second, time.Millisecond, "on %s", n.Name())
		_, ok := moduleOn(t, n, echoHash)
		require.True(t, ok, "a module stored here stays")
	}
	require.Equal(t, []string{"n1", "n2"}, holders(t, c, "n1", echoHash))
}

// holders asks node, as the CLI does, which nodes hold module h.
func holders(t *testing.T, c *testCluster, node string, h registry.Hash) []string {
	t.Helper()
	cl, err := c.net.Dial(ctxT(t), node)
	require.NoError(t, err)
	defer cl.Close()
	b, err := cl.Call(ctxT(t), transport.Control{Kind: proto.KindModules, Body: proto.Marshal(proto.Empty{})})
	require.NoError(t, err)
	var ms []proto.ModuleStatus
	require.NoError(t, proto.Unmarshal(b, &ms))
	for _, m := range ms {
		if m.Info.Hash == h {
			return m.Holders
		}
	}
	return nil
}

// TestPeerAnnouncementsAreBounded: a peer makes a node hold at most
// MaxModulesPerPeer module announcements and MaxNamesPerPeer name claims.
func TestPeerAnnouncementsAreBounded(t *testing.T) {
	c := newCluster(t, 1, host.Config{})
	n1 := c.nodes[0]
	r := c.addRogue(t, "rogue", 77)

	var mods []registry.ModuleInfo
	for i := range host.MaxModulesPerPeer + 10 {
		mods = append(mods, moduleOf([]byte(fmt.Sprint("module ", i)), 1, "F"))
	}
	for len(mods) > 0 {
		k := min(len(mods), 256)
		r.cast(t, "n1", proto.KindSync, proto.Sync{Modules: mods[:k]})
		mods = mods[k:]
	}
	var claims []registry.Claim
	for i := range host.MaxNamesPerPeer + 10 {
		claims = append(claims, registry.Claim{Name: fmt.Sprint("name", i), PID: r.pid(uint64(i + 1))})
	}
	for rest := claims; len(rest) > 0; {
		k := min(len(rest), 2048)
		r.cast(t, "n1", proto.KindSync, proto.Sync{Names: rest[:k]})
		rest = rest[k:]
	}
	r.sync(t, n1)
	require.Equal(t, host.MaxModulesPerPeer, len(n1.Modules()))
	ctx := ctxT(t)
	for i, cl := range claims {
		_, err := n1.Whereis(ctx, cl.Name)
		if i < host.MaxNamesPerPeer {
			require.NoError(t, err, cl.Name)
		} else {
			require.ErrorIs(t, err, wasmactor.ErrNotFound, cl.Name)
		}
	}
}
