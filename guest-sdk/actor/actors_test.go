package actor

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// The actor table agrees with a map under random puts and deletes, with
// ids both sequential (host serials) and scattered, through growing and
// emptying.
func TestActorTableMatchesAMap(t *testing.T) {
	for _, scattered := range []bool{false, true} {
		rng := rand.New(rand.NewPCG(1, 2))
		var tab actorTable
		model := map[uint64]*Context{}
		next := uint64(1)
		newID := func() uint64 {
			if scattered {
				return rng.Uint64()
			}
			next += uint64(1 + rng.IntN(8)) // the serials another instance took are gaps
			return next
		}
		var ids []uint64
		for step := range 200_000 {
			grow := step < 100_000 // grow, then mostly shrink
			switch r := rng.IntN(10); {
			case (grow && r < 7) || (!grow && r < 2):
				c := &Context{id: newID()}
				_, dup := model[c.id]
				require.Equal(t, !dup, tab.put(c))
				if !dup {
					model[c.id] = c
					ids = append(ids, c.id)
				}
			case r < 8 && len(ids) > 0: // a duplicate put is refused
				id := ids[rng.IntN(len(ids))]
				if model[id] != nil {
					require.False(t, tab.put(&Context{id: id}))
				}
			default:
				if len(ids) == 0 {
					continue
				}
				k := rng.IntN(len(ids))
				id := ids[k]
				ids[k] = ids[len(ids)-1]
				ids = ids[:len(ids)-1]
				tab.delete(id)
				tab.delete(id) // twice: the second finds nothing
				delete(model, id)
			}
			if step%10_000 == 0 {
				requireSame(t, &tab, model)
			}
		}
		requireSame(t, &tab, model)
		for id := range model {
			tab.delete(id)
			require.Nil(t, tab.get(id))
		}
		require.Zero(t, tab.len())
	}
}

func requireSame(t *testing.T, tab *actorTable, model map[uint64]*Context) {
	t.Helper()
	require.Equal(t, len(model), tab.len())
	for id, c := range model {
		require.Same(t, c, tab.get(id))
	}
	require.Nil(t, tab.get(0))
	n := 0
	for _, c := range tab.slots {
		if c != nil {
			n++
			require.Same(t, model[c.id], c)
		}
	}
	require.Equal(t, tab.len(), n)
	require.LessOrEqual(t, tab.len()*4, len(tab.slots)*3, "at most 3/4 full")
}
