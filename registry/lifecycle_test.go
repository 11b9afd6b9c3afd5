package registry

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor"
)

func TestStoreDelete(t *testing.T) {
	for name, s := range stores(t) {
		t.Run(name, func(t *testing.T) {
			a, b := []byte("\x00asm one"), []byte("\x00asm two")
			ia, ib := testInfo(a, 1, "Counter"), testInfo(b, 2, "Counter")
			require.NoError(t, s.Put(ia, a))
			require.NoError(t, s.Put(ib, b))
			require.NoError(t, s.Delete(ib.Hash))
			require.NoError(t, s.Delete(ib.Hash), "deleting twice is fine")
			_, err := s.Get(ib.Hash)
			require.ErrorIs(t, err, wasmactor.ErrNotFound)
			require.Equal(t, []ModuleInfo{ia}, s.List())
			require.NoError(t, s.Put(ib, b), "a deleted module can come back")
			require.Len(t, s.List(), 2)
		})
	}
	dir := filepath.Join(t.TempDir(), "m")
	ds, err := NewDirStore(dir)
	require.NoError(t, err)
	wasm := []byte("\x00asm three")
	info := testInfo(wasm, 3, "X")
	require.NoError(t, ds.Put(info, wasm))
	require.NoError(t, ds.Delete(info.Hash))
	require.NoError(t, ds.Close())
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		require.Equal(t, lockName, e.Name(), "no file of the module is left")
	}
}

func TestFactoriesRemoveFallsBackToThePreviousVersion(t *testing.T) {
	f := NewFactories()
	old := testInfo([]byte("\x00asm old"), 10, "Counter", "Plain")
	cur := testInfo([]byte("\x00asm new"), 20, "Counter")
	f.Add(old)
	f.Announce(cur)
	_, got, err := f.Resolve("Counter")
	require.NoError(t, err)
	require.Equal(t, cur.Hash, got.Hash)
	require.True(t, f.Remove(cur.Hash), "announced or checked, an undeployed module goes")
	_, got, err = f.Resolve("Counter")
	require.NoError(t, err)
	require.Equal(t, old.Hash, got.Hash)
	require.True(t, f.Remove(old.Hash))
	require.False(t, f.Remove(old.Hash))
	_, _, err = f.Resolve("Plain")
	require.ErrorIs(t, err, wasmactor.ErrUnknownFactory)
	require.False(t, f.Checked(old.Hash))
}

func TestTombstonesPersistAndBury(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tombstones")
	ts, err := LoadTombstones(path)
	require.NoError(t, err)
	info := testInfo([]byte("\x00asm gone"), 100, "Counter")
	require.False(t, ts.Buries(info))
	changed, err := ts.Add(Tombstone{Hash: info.Hash, At: 200})
	require.NoError(t, err)
	require.True(t, changed)
	changed, err = ts.Add(Tombstone{Hash: info.Hash, At: 150})
	require.NoError(t, err)
	require.False(t, changed, "the later time stays")
	require.True(t, ts.Buries(info), "deployed at 100, undeployed at 200")
	redeployed := info
	redeployed.DeployedAt = 300
	require.False(t, ts.Buries(redeployed), "a deploy after the undeploy brings it back")

	again, err := LoadTombstones(path)
	require.NoError(t, err)
	require.Equal(t, []Tombstone{{Hash: info.Hash, At: 200}}, again.List())
	require.NoError(t, again.Remove(info.Hash))
	again, err = LoadTombstones(path)
	require.NoError(t, err)
	require.Empty(t, again.List())

	mem, err := LoadTombstones("")
	require.NoError(t, err)
	for i := range MaxTombstones + 5 {
		_, err := mem.Add(Tombstone{Hash: HashOf([]byte{byte(i), byte(i >> 8)}), At: int64(i)})
		require.NoError(t, err)
	}
	list := mem.List()
	require.Len(t, list, MaxTombstones)
	require.Equal(t, int64(5), list[0].At, "the oldest went")

	require.NoError(t, os.WriteFile(path, []byte("garbage"), 0o600))
	_, err = LoadTombstones(path)
	require.Error(t, err)
}

func TestNamesHandoverKeepsThePlace(t *testing.T) {
	n := NewNames()
	old := wasmactor.PID{Node: "n1", Incarnation: 1, Serial: 5}
	moved := wasmactor.PID{Node: "n2", Incarnation: 2, Serial: 9}
	other := wasmactor.PID{Node: "n3", Incarnation: 3, Serial: 1}
	require.NoError(t, n.Register(Claim{Name: "a", PID: old}))
	require.NoError(t, n.Register(Claim{Name: "b", PID: old}))
	v, _, since := n.Offer(Claim{Name: "a", PID: other}, 0)
	require.Equal(t, Waiting, v)
	require.Equal(t, []string{"a", "b"}, n.Handover(old, moved))
	got, ok := n.Whereis("a")
	require.True(t, ok)
	require.Equal(t, moved, got)
	require.Equal(t, []Claim{{Name: "a", PID: other}}, n.Waiting("a"), "the waiting claim still waits")
	_, _, since2 := n.Offer(Claim{Name: "a", PID: other}, 0)
	require.Equal(t, since, since2, "the holder keeps its time")
	require.Empty(t, n.Of(old))
	require.Equal(t, 1, n.NodeClaims("n3"))
	require.Equal(t, 2, n.NodeClaims("n2"))
	require.Zero(t, n.NodeClaims("n1"))
	require.Empty(t, n.Handover(old, moved), "nothing left to hand over")

	g := NewGroups()
	g.Join("x", old)
	g.Join("y", old)
	require.Equal(t, []string{"x", "y"}, g.Replace(old, moved))
	require.Equal(t, []wasmactor.PID{moved}, g.Members("x"))
}
