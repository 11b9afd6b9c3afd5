package registry

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor"
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
	require.NoError(t, n.Register(Claim{Name: "svc", PID: p1, At: 10}))
	require.NoError(t, n.Register(Claim{Name: "svc", PID: p1, At: 20}), "same PID again is fine")
	c, ok := n.Claim("svc")
	require.True(t, ok)
	require.EqualValues(t, 10, c.At, "and keeps the first claim")

	err := n.Register(Claim{Name: "svc", PID: p2, At: 1})
	require.ErrorIs(t, err, wasmactor.ErrNameTaken, "local registration is first come, first served")
	require.ErrorContains(t, err, "<n1.0000000000000001.1>")
	require.ErrorIs(t, n.Register(Claim{Name: "bad name", PID: p1}), wasmactor.ErrBadArgument)
	require.ErrorIs(t, n.Register(Claim{Name: "ok"}), wasmactor.ErrBadArgument)

	require.NoError(t, n.Register(Claim{Name: "alias", PID: p1, At: 11}))
	require.NoError(t, n.Register(Claim{Name: "other", PID: p2, At: 12}))
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
	require.NoError(t, n.Register(Claim{Name: "svc", PID: p2, At: 13}))

	require.Equal(t, []string{"alias"}, n.RemovePID(p1))
	require.Empty(t, n.RemovePID(p1))
	require.Empty(t, n.Of(p1))
	require.Equal(t, []string{"other", "svc"}, n.Of(p2))

	require.NoError(t, n.Register(Claim{Name: "x", PID: wasmactor.PID{Node: "n2", Incarnation: 2, Serial: 9}}))
	require.NoError(t, n.Register(Claim{Name: "y", PID: pid("n3", 1)}))
	require.Equal(t, []string{"other", "svc", "x"}, n.RemoveNode("n2"), "every incarnation of the node")
	require.Equal(t, []string{"y"}, names(n.List()))
}

func names(cs []Claim) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Name
	}
	return out
}

func TestNamesMerge(t *testing.T) {
	p1, p2, p3 := pid("n1", 1), pid("n2", 1), pid("n3", 1)
	tests := []struct {
		name       string
		held       *Claim
		in         Claim
		wantLoser  *Claim
		wantHolder wasmactor.PID
		wantAt     int64
	}{
		{"free name", nil, Claim{"a", p1, 5}, nil, p1, 5},
		{"earlier wins", &Claim{"a", p1, 5}, Claim{"a", p2, 4}, &Claim{"a", p1, 5}, p2, 4},
		{"later loses", &Claim{"a", p1, 5}, Claim{"a", p2, 6}, &Claim{"a", p2, 6}, p1, 5},
		{"tie: smaller PID wins", &Claim{"a", p2, 5}, Claim{"a", p1, 5}, &Claim{"a", p2, 5}, p1, 5},
		{"tie: larger PID loses", &Claim{"a", p1, 5}, Claim{"a", p3, 5}, &Claim{"a", p3, 5}, p1, 5},
		{"same PID keeps earliest", &Claim{"a", p1, 5}, Claim{"a", p1, 3}, nil, p1, 3},
		{"same PID later ignored", &Claim{"a", p1, 5}, Claim{"a", p1, 9}, nil, p1, 5},
		{"invalid claim loses", &Claim{"a", p1, 5}, Claim{"a b", p2, 1}, &Claim{"a b", p2, 1}, p1, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := NewNames()
			if tt.held != nil {
				require.Nil(t, n.Merge(*tt.held))
			}
			require.Equal(t, tt.wantLoser, n.Merge(tt.in))
			c, ok := n.Claim("a")
			require.True(t, ok)
			require.Equal(t, tt.wantHolder, c.PID)
			require.Equal(t, tt.wantAt, c.At)
			if tt.wantLoser != nil && tt.wantLoser.PID != c.PID {
				require.NotContains(t, n.Of(tt.wantLoser.PID), "a", "the loser's index entry is gone")
			}
		})
	}
}

// TestNamesMergeOrderIndependent is the property every node relies on: the
// same claims merged in any order give the same table.
func TestNamesMergeOrderIndependent(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	nodes := []string{"n1", "n2", "n3"}
	for round := range 50 {
		var claims []Claim
		for range 5 + r.IntN(40) {
			claims = append(claims, Claim{
				Name: fmt.Sprintf("name%d", r.IntN(6)),
				PID:  wasmactor.PID{Node: nodes[r.IntN(3)], Incarnation: uint64(1 + r.IntN(2)), Serial: uint64(1 + r.IntN(4))},
				At:   int64(r.IntN(5)), // few distinct times: many ties
			})
		}
		var want []Claim
		var wantOf map[wasmactor.PID][]string
		for perm := range 30 {
			order := append([]Claim(nil), claims...)
			r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
			n := NewNames()
			for _, c := range order {
				n.Merge(c)
			}
			got := n.List()
			of := map[wasmactor.PID][]string{}
			for _, c := range claims {
				of[c.PID] = n.Of(c.PID)
			}
			if perm == 0 {
				want, wantOf = got, of
				continue
			}
			require.Equal(t, want, got, "round %d permutation %d", round, perm)
			require.Equal(t, wantOf, of, "round %d permutation %d", round, perm)
		}
		// And the winner of each name is the minimum claim by (At, PID).
		best := map[string]Claim{}
		for _, c := range claims {
			if b, ok := best[c.Name]; !ok || c.beats(b) {
				best[c.Name] = c
			}
		}
		for _, c := range want {
			require.Equal(t, best[c.Name], c)
		}
	}
}

func TestClaimCodec(t *testing.T) {
	c := Claim{Name: "svc", PID: wasmactor.PID{Node: "n1", Incarnation: 7, Serial: 3}, At: 99}
	b, err := EncodeClaim(c)
	require.NoError(t, err)
	back, err := DecodeClaim(b)
	require.NoError(t, err)
	require.Equal(t, c, back)
	_, err = DecodeClaim(append(b, 0))
	require.ErrorIs(t, err, wasmactor.ErrBadArgument)
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
					_ = n.Register(Claim{Name: name, PID: p, At: r.Int64N(100)})
				case 1:
					n.Merge(Claim{Name: name, PID: p, At: r.Int64N(100)})
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
	for p, ns := range n.byPID {
		require.NotEmpty(t, ns)
		for _, name := range ns {
			require.Equal(t, p, n.byName[name].PID)
		}
	}
}

// FuzzDecodeClaim: claims arrive from peers; the decoder must never panic and
// whatever it accepts must be a valid claim that round-trips.
func FuzzDecodeClaim(f *testing.F) {
	good, err := EncodeClaim(Claim{Name: "svc", PID: wasmactor.PID{Node: "n1", Incarnation: 7, Serial: 3}, At: 99})
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
