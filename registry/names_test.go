package registry

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/cbormode"
)

func pid(node string, serial uint64) wasmactor.PID {
	return wasmactor.PID{Node: node, Incarnation: 1, Serial: serial}
}

func TestValidateName(t *testing.T) {
	tests := []struct {
		name string
		want string
	}{
		{"counter", ""},
		{"a", ""},
		{strings.Repeat("x", 255), ""},
		{"über/zähler#1", ""},
		{"", "empty name"},
		{strings.Repeat("x", 256), "256 bytes, at most 255"},
		{"two words", "U+0020"},
		{"tab\there", "U+0009"},
		{"nbsp\u00a0x", "U+00A0"},
		{"bell\x07", "U+0007"},
		{"bad\xffutf8", "not valid UTF-8"},
		{"<n1.0000000000000001.5>", "reserved for PIDs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateName(tt.name)
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, wasmactor.ErrBadArgument)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestNamesRegister(t *testing.T) {
	n := NewNames()
	p1, p2 := pid("n1", 1), pid("n2", 2)
	require.NoError(t, n.Register(Claim{Name: "svc", PID: p1}))
	require.NoError(t, n.Register(Claim{Name: "svc", PID: p1}), "same PID again is fine")

	err := n.Register(Claim{Name: "svc", PID: p2})
	require.ErrorIs(t, err, wasmactor.ErrNameTaken, "local registration is first come, first served")
	require.ErrorContains(t, err, "<n1.0000000000000001.1>")
	require.ErrorIs(t, n.Register(Claim{Name: "bad name", PID: p1}), wasmactor.ErrBadArgument)
	require.ErrorIs(t, n.Register(Claim{Name: "ok"}), wasmactor.ErrBadArgument)

	require.NoError(t, n.Register(Claim{Name: "alias", PID: p1}))
	require.NoError(t, n.Register(Claim{Name: "other", PID: p2}))
	got, ok := n.Whereis("svc")
	require.True(t, ok)
	require.Equal(t, p1, got)
	_, ok = n.Whereis("nobody")
	require.False(t, ok)
	require.Equal(t, []string{"alias", "svc"}, n.Of(p1))
	require.Equal(t, []string{"alias", "other", "svc"}, names(n.List()))

	require.False(t, n.Unregister("svc", p2), "only the holder unregisters")
	require.False(t, n.Unregister("nobody", p1))
	require.True(t, n.Unregister("svc", p1))
	require.Equal(t, []string{"alias"}, n.Of(p1))
	require.NoError(t, n.Register(Claim{Name: "svc", PID: p2}))

	require.Equal(t, []string{"alias"}, n.RemovePID(p1))
	require.Empty(t, n.RemovePID(p1))
	require.Empty(t, n.Of(p1))
	require.Equal(t, []string{"other", "svc"}, n.Of(p2))

	require.NoError(t, n.Register(Claim{Name: "x", PID: wasmactor.PID{Node: "n2", Incarnation: 2, Serial: 9}}))
	require.NoError(t, n.Register(Claim{Name: "y", PID: pid("n3", 1)}))
	require.Equal(t, []string{"other", "svc", "x"}, n.RemoveNode("n2"), "every incarnation of the node")
	require.Equal(t, []string{"y"}, names(n.List()))
	require.Zero(t, n.NodeClaims("n2"))
	require.Equal(t, 1, n.NodeClaims("n3"))
}

func names(cs []Claim) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Name
	}
	return out
}

// rankedClaims returns, for each node in order, a claim of name by that node,
// ordered so that each precedes the next.
func rankedClaims(name string, nodes ...string) []Claim {
	cs := make([]Claim, len(nodes))
	for i, node := range nodes {
		cs[i] = Claim{Name: name, PID: pid(node, 1)}
	}
	slices.SortFunc(cs, func(a, b Claim) int {
		if a.Precedes(b) {
			return -1
		}
		return 1
	})
	return cs
}

func TestNamesOffer(t *testing.T) {
	n := NewNames()
	p1, p1b, p2 := pid("n1", 1), pid("n1", 2), pid("n2", 1)

	v, _, _ := n.Offer(Claim{"a", p1}, 0)
	require.Equal(t, Taken, v, "a free name is taken")
	v, _, _ = n.Offer(Claim{"a", p1}, 0)
	require.Equal(t, Kept, v)
	v, _, _ = n.Offer(Claim{"a", p1b}, 0)
	require.Equal(t, Taken, v, "a node decides about its own names")
	require.Equal(t, []string{"a"}, n.Of(p1b))
	require.Empty(t, n.Of(p1))

	before := time.Now()
	require.NoError(t, n.Register(Claim{"b", p2}))
	v, holder, since := n.Offer(Claim{"b", p1}, 0)
	require.Equal(t, Waiting, v, "the incumbent keeps a name another node holds")
	require.Equal(t, Claim{"b", p2}, holder)
	require.False(t, since.Before(before), "since is when the holder took the name here")
	got, _ := n.Whereis("b")
	require.Equal(t, p2, got)
	require.Equal(t, []Claim{{"b", p1}}, n.Waiting("b"))
	v, _, _ = n.Offer(Claim{"b", p1b}, 0)
	require.Equal(t, Waiting, v)
	require.Equal(t, []Claim{{"b", p1b}}, n.Waiting("b"), "one waiting claim per node: the latest")

	require.True(t, n.Unregister("b", p2))
	got, _ = n.Whereis("b")
	require.Equal(t, p1b, got, "the waiting claim takes the name when the holder lets go")
	require.Empty(t, n.Waiting("b"))

	v, _, _ = n.Offer(Claim{"bad name", p1}, 0)
	require.Equal(t, Refused, v)
	v, _, _ = n.Offer(Claim{"c", wasmactor.PID{Node: "n1"}}, 0)
	require.Equal(t, Refused, v)
}

func TestNamesWaitingClaimsTakeOverInPrecedenceOrder(t *testing.T) {
	cs := rankedClaims("x", "n1", "n2", "n3", "n4")
	n := NewNames()
	require.NoError(t, n.Register(cs[3])) // the weakest claim holds it first
	for _, c := range []Claim{cs[2], cs[0], cs[1]} {
		v, _, _ := n.Offer(c, 0)
		require.Equal(t, Waiting, v)
	}
	require.Equal(t, cs[:3], n.Waiting("x"))
	require.True(t, n.Unregister("x", cs[0].PID), "a waiting claim is withdrawn")
	require.Equal(t, []string{"x"}, n.RemoveNode(cs[3].PID.Node))
	got, _ := n.Whereis("x")
	require.Equal(t, cs[1].PID, got)
	require.Equal(t, []string{"x"}, n.RemovePID(cs[1].PID))
	got, _ = n.Whereis("x")
	require.Equal(t, cs[2].PID, got)
	require.Empty(t, n.Waiting("x"))
}

func TestNamesOfferLimitsClaimsPerNode(t *testing.T) {
	n := NewNames()
	require.NoError(t, n.Register(Claim{"held", pid("n1", 1)}))
	for i := range 3 {
		v, _, _ := n.Offer(Claim{fmt.Sprintf("a%d", i), pid("n2", 1)}, 3)
		require.Equal(t, Taken, v)
	}
	v, _, _ := n.Offer(Claim{"a3", pid("n2", 1)}, 3)
	require.Equal(t, Refused, v, "a fourth claim is over the limit")
	v, _, _ = n.Offer(Claim{"held", pid("n2", 1)}, 3)
	require.Equal(t, Refused, v, "waiting claims count too")
	v, _, _ = n.Offer(Claim{"a0", pid("n2", 2)}, 3)
	require.Equal(t, Taken, v, "replacing its own claim is not a new one")
	require.Equal(t, 3, n.NodeClaims("n2"))
	require.True(t, n.Unregister("a1", pid("n2", 1)))
	v, _, _ = n.Offer(Claim{"held", pid("n2", 1)}, 3)
	require.Equal(t, Waiting, v)
	require.Equal(t, 3, n.NodeClaims("n2"))
	n.RemoveNode("n2")
	require.Zero(t, n.NodeClaims("n2"))
	require.Empty(t, n.Waiting("held"))
}

func TestClaimPrecedesIsATotalOrderOfNodeAndName(t *testing.T) {
	a := Claim{"svc", wasmactor.PID{Node: "n1", Incarnation: 1, Serial: 1}}
	b := Claim{"svc", wasmactor.PID{Node: "n2", Incarnation: 1, Serial: 1}}
	require.NotEqual(t, a.Precedes(b), b.Precedes(a))
	require.False(t, a.Precedes(a))
	// Nothing but the node name (and the name) decides between nodes:
	// another incarnation or serial does not move a claim past another node's.
	for _, p := range []wasmactor.PID{{Node: "n1", Incarnation: 9, Serial: 1}, {Node: "n1", Incarnation: 1, Serial: 1 << 40}} {
		require.Equal(t, a.Precedes(b), Claim{"svc", p}.Precedes(b))
	}
	// Different names order the same two nodes differently (not always the
	// same node wins).
	flips := 0
	for i := range 64 {
		x, y := Claim{fmt.Sprint("s", i), a.PID}, Claim{fmt.Sprint("s", i), b.PID}
		if x.Precedes(y) {
			flips++
		}
	}
	require.Greater(t, flips, 8)
	require.Less(t, flips, 56)
}

// TestNamesConvergeOnceLosersWithdraw is the property the cluster relies on:
// tables that saw the same claims, in any order, hold the same winner once
// every claim but the one that precedes all others has been withdrawn, in
// any order.
func TestNamesConvergeOnceLosersWithdraw(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 50 {
		var claims []Claim
		for i := range 2 + r.IntN(5) {
			claims = append(claims, Claim{Name: "x", PID: pid(fmt.Sprintf("node%d", i), uint64(1+r.IntN(4)))})
		}
		best := claims[0]
		for _, c := range claims[1:] {
			if c.Precedes(best) {
				best = c
			}
		}
		for perm := range 20 {
			n := NewNames()
			order := slices.Clone(claims)
			r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
			for _, c := range order {
				n.Offer(c, 0)
			}
			r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
			for _, c := range order {
				if c != best {
					n.Unregister(c.Name, c.PID)
				}
			}
			got, ok := n.Whereis("x")
			require.True(t, ok, "round %d permutation %d", round, perm)
			require.Equal(t, best.PID, got, "round %d permutation %d", round, perm)
			require.Empty(t, n.Waiting("x"))
		}
	}
}

func TestClaimCodec(t *testing.T) {
	c := Claim{Name: "svc", PID: wasmactor.PID{Node: "n1", Incarnation: 7, Serial: 3}}
	b, err := EncodeClaim(c)
	require.NoError(t, err)
	back, err := DecodeClaim(b)
	require.NoError(t, err)
	require.Equal(t, c, back)
	_, err = DecodeClaim(append(b, 0))
	require.ErrorIs(t, err, wasmactor.ErrBadArgument)
	// A time sent by an older peer (key 3) is ignored: it orders nothing.
	dated, err := cbormode.Deterministic().Marshal(map[int]any{1: c.Name, 2: c.PID, 3: int64(-1 << 62)})
	require.NoError(t, err)
	back, err = DecodeClaim(dated)
	require.NoError(t, err)
	require.Equal(t, c, back)
	bad, err := EncodeClaim(Claim{Name: "has space", PID: c.PID})
	require.NoError(t, err)
	_, err = DecodeClaim(bad)
	require.ErrorIs(t, err, wasmactor.ErrBadArgument)
}

// TestNamesHammer: concurrent registers, merges, lookups and removals keep the
// two indexes consistent (checked at the end) and race-free.
func TestNamesHammer(t *testing.T) {
	n := NewNames()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 0))
			for range 3000 {
				name := fmt.Sprintf("n%d", r.IntN(20))
				p := pid(fmt.Sprintf("node%d", r.IntN(3)), uint64(1+r.IntN(10)))
				switch r.IntN(6) {
				case 0:
					_ = n.Register(Claim{Name: name, PID: p})
				case 1:
					n.Offer(Claim{Name: name, PID: p}, 50)
				case 2:
					n.Whereis(name)
				case 3:
					n.Unregister(name, p)
				case 4:
					n.RemovePID(p)
				case 5:
					if r.IntN(20) == 0 {
						n.RemoveNode(p.Node)
					}
					n.List()
				}
			}
		})
	}
	wg.Wait()
	// Cross-check the indexes.
	for _, c := range n.List() {
		require.Contains(t, n.Of(c.PID), c.Name)
	}
	n.mu.RLock()
	defer n.mu.RUnlock()
	count := map[string]int{}
	for p, ns := range n.byPID {
		require.NotEmpty(t, ns)
		for _, name := range ns {
			require.Equal(t, p, n.byName[name].PID)
			count[p.Node]++
		}
	}
	for name, ws := range n.waiting {
		require.NotEmpty(t, ws)
		h, ok := n.byName[name]
		require.True(t, ok, "claims wait only behind a holder")
		for _, w := range ws {
			require.NotEqual(t, h.PID.Node, w.PID.Node)
			count[w.PID.Node]++
		}
	}
	require.Equal(t, count, n.perNode)
	waits := map[wasmactor.PID]int{}
	for _, ws := range n.waiting {
		for _, w := range ws {
			waits[w.PID]++
		}
	}
	require.Equal(t, waits, n.waitsOf)
}

// FuzzDecodeClaim: claims arrive from peers; the decoder must never panic and
// whatever it accepts must be a valid claim that round-trips.
func FuzzDecodeClaim(f *testing.F) {
	good, err := EncodeClaim(Claim{Name: "svc", PID: wasmactor.PID{Node: "n1", Incarnation: 7, Serial: 3}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte{0xa1, 0x01, 0x7f, 0x61, 0x61, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeClaim(b)
		if err != nil {
			return
		}
		require.NoError(t, c.validate())
		again, err := EncodeClaim(c)
		require.NoError(t, err)
		c2, err := DecodeClaim(again)
		require.NoError(t, err)
		require.Equal(t, c, c2)
	})
}
