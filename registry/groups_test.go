package registry

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor"
)

func TestGroups(t *testing.T) {
	g := NewGroups()
	a, b, c := pid("n1", 2), pid("n1", 1), pid("n2", 1)
	require.True(t, g.Join("workers", a))
	require.False(t, g.Join("workers", a), "already a member")
	require.True(t, g.Join("workers", c))
	require.True(t, g.Join("workers", b))
	require.True(t, g.Join("admins", a))
	require.False(t, g.Join("bad name", a))
	require.False(t, g.Join("ok", wasmactor.PID{}))

	require.Equal(t, []wasmactor.PID{b, a, c}, g.Members("workers"), "sorted by PID.Less")
	require.Empty(t, g.Members("nobody"))
	require.Equal(t, []string{"admins", "workers"}, g.Groups())
	require.Equal(t, []string{"admins", "workers"}, g.Of(a))
	require.Equal(t, []Membership{{"admins", a}, {"workers", b}, {"workers", a}, {"workers", c}}, g.List())

	require.True(t, g.Leave("admins", a))
	require.False(t, g.Leave("admins", a))
	require.False(t, g.Leave("nobody", a))
	require.Equal(t, []string{"workers"}, g.Groups(), "an empty group disappears")

	require.True(t, g.Join("admins", c))
	require.Equal(t, []string{"admins", "workers"}, g.RemovePID(c))
	require.Empty(t, g.RemovePID(c))
	require.Equal(t, []wasmactor.PID{b, a}, g.Members("workers"))

	old := wasmactor.PID{Node: "n1", Incarnation: 9, Serial: 5}
	g.Join("other", old)
	g.Join("third", pid("n3", 1))
	require.Equal(t, []Membership{{"other", old}, {"workers", b}, {"workers", a}}, g.RemoveNode("n1"), "every incarnation of the node")
	require.Equal(t, []string{"third"}, g.Groups())
	require.Empty(t, g.RemoveNode("n1"))
}

func TestGroupsHammer(t *testing.T) {
	g := NewGroups()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for range 3000 {
				group := fmt.Sprintf("g%d", r.IntN(5))
				p := pid(fmt.Sprintf("n%d", r.IntN(3)), uint64(1+r.IntN(8)))
				switch r.IntN(6) {
				case 0, 1:
					g.Join(group, p)
				case 2:
					g.Leave(group, p)
				case 3:
					g.Members(group)
				case 4:
					g.RemovePID(p)
				case 5:
					if r.IntN(10) == 0 {
						g.RemoveNode(p.Node)
					}
					g.List()
				}
			}
		})
	}
	wg.Wait()
	for _, m := range g.List() {
		require.Contains(t, g.Of(m.PID), m.Group)
	}
	g.mu.RLock()
	defer g.mu.RUnlock()
	for p, gs := range g.byPID {
		require.NotEmpty(t, gs)
		for name := range gs {
			require.Contains(t, g.members[name], p)
		}
	}
	for _, ms := range g.members {
		require.NotEmpty(t, ms)
	}
}
