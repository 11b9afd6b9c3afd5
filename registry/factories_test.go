package registry

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor"
)

// moduleWithPrefix finds module bytes whose hash starts with prefix, so
// tests can build colliding short prefixes deterministically.
func moduleWithPrefix(t *testing.T, prefix, seed string) []byte {
	t.Helper()
	for i := 0; i < 1_000_000; i++ {
		b := []byte(seed + strings.Repeat("#", i%7) + string(rune('a'+i%26)) + itoa(i))
		if strings.HasPrefix(HashOf(b).String(), prefix) {
			return b
		}
	}
	t.Fatalf("no module with prefix %s", prefix)
	return nil
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

func TestFactoriesResolve(t *testing.T) {
	f := NewFactories()
	// Two modules sharing the 2-digit prefix "ab", both exporting Counter.
	m1 := testInfo(moduleWithPrefix(t, "ab", "one"), 100, "Counter", "Echo")
	m2 := testInfo(moduleWithPrefix(t, "ab", "two"), 200, "Counter")
	m3 := testInfo([]byte("three"), 200, "Echo") // same time as m2, other factory
	for _, m := range []ModuleInfo{m1, m2, m3} {
		require.True(t, f.Add(m))
		require.False(t, f.Add(m), "idempotent")
	}
	require.False(t, f.Add(ModuleInfo{}), "invalid infos are refused")

	tests := []struct {
		ref     string
		factory string
		want    Hash
		err     error
		errText string
	}{
		{ref: "Counter", factory: "Counter", want: m2.Hash},
		{ref: "Echo", factory: "Echo", want: m3.Hash},
		{ref: "Counter@" + m1.Hash.String()[:4], factory: "Counter", want: m1.Hash},
		{ref: "Counter@" + strings.ToUpper(m1.Hash.String()[:6]), factory: "Counter", want: m1.Hash},
		{ref: "Counter@" + m1.Hash.String(), factory: "Counter", want: m1.Hash},
		{ref: "Echo@" + m1.Hash.Short(), factory: "Echo", want: m1.Hash},
		{ref: "Counter@ab", err: wasmactor.ErrBadArgument, errText: "4 to 64 hex digits"},
		{ref: "Counter@abzz", err: wasmactor.ErrBadArgument, errText: "hex digits"},
		{ref: "Counter@" + m1.Hash.String() + "0", err: wasmactor.ErrBadArgument, errText: "hex digits"},
		{ref: "Echo@" + m2.Hash.Short(), err: wasmactor.ErrUnknownFactory, errText: "starting with " + m2.Hash.Short()},
		{ref: "Missing", err: wasmactor.ErrUnknownFactory, errText: `no deployed module exports "Missing"`},
		{ref: "", err: wasmactor.ErrBadArgument, errText: "empty factory name"},
		{ref: "@abcd", err: wasmactor.ErrBadArgument, errText: "empty factory name"},
		{ref: "Bad Name", err: wasmactor.ErrBadArgument, errText: "factory name"},
	}
	if m1.Hash.String()[:4] == m2.Hash.String()[:4] {
		t.Fatal("test setup: the two modules share 4 digits; pick other seeds")
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			factory, m, err := f.Resolve(tt.ref)
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				require.ErrorContains(t, err, tt.errText)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.factory, factory)
			require.Equal(t, tt.want, m.Hash)
		})
	}

	// A 2-digit prefix is refused; a real ambiguity needs a shared 4-digit
	// prefix, so build one.
	a1 := testInfo(moduleWithPrefix(t, "cafe", "x"), 1, "Dup")
	a2 := testInfo(moduleWithPrefix(t, "cafe", "y"), 2, "Dup")
	f.Add(a1)
	f.Add(a2)
	_, _, err := f.Resolve("Dup@cafe")
	require.ErrorIs(t, err, wasmactor.ErrAmbiguousFactory)
	require.ErrorContains(t, err, a1.Hash.Short())
	require.ErrorContains(t, err, a2.Hash.Short())
	_, m, err := f.Resolve("Dup@" + a1.Hash.String()[:12])
	require.NoError(t, err)
	require.Equal(t, a1.Hash, m.Hash)
}

func TestFactoriesNewest(t *testing.T) {
	f := NewFactories()
	old := testInfo([]byte("old"), 100, "Svc")
	cur := testInfo([]byte("cur"), 200, "Svc")
	f.Add(old)
	f.Add(cur)
	_, m, err := f.Resolve("Svc")
	require.NoError(t, err)
	require.Equal(t, cur.Hash, m.Hash)

	// Redeploying the old module makes it the newest again.
	again := old
	again.DeployedAt = 300
	require.True(t, f.Add(again))
	_, m, err = f.Resolve("Svc")
	require.NoError(t, err)
	require.Equal(t, old.Hash, m.Hash)
	require.EqualValues(t, 300, m.DeployedAt)
	require.False(t, f.Add(old), "an older announcement changes nothing")

	mods := f.Modules()
	require.Len(t, mods, 2)
	require.Equal(t, old.Hash, mods[0].Hash)

	got, ok := f.Lookup(cur.Hash)
	require.True(t, ok)
	require.Equal(t, cur, got)
	_, ok = f.Lookup(HashOf([]byte("nope")))
	require.False(t, ok)
}

// TestFactoriesTieByHash: equal DeployedAt resolve to the larger hash on
// every node, whatever the order of Adds.
func TestFactoriesTieByHash(t *testing.T) {
	a := testInfo([]byte("a"), 5, "T")
	b := testInfo([]byte("b"), 5, "T")
	want := a.Hash
	if b.Hash.String() > a.Hash.String() {
		want = b.Hash
	}
	for _, order := range [][]ModuleInfo{{a, b}, {b, a}} {
		f := NewFactories()
		for _, m := range order {
			f.Add(m)
		}
		_, m, err := f.Resolve("T")
		require.NoError(t, err)
		require.Equal(t, want, m.Hash)
	}
}

// TestFactoriesAnnouncedListsAreHints: a list another node announced never
// changes a list this node derived from the module (Add); announced lists of
// one module are merged, so a list that leaves a factory out cannot hide it;
// a derived list replaces the announced ones; and a module known only from
// announcements can be forgotten.
func TestFactoriesAnnouncedListsAreHints(t *testing.T) {
	f := NewFactories()
	mod := testInfo([]byte("mod"), 100, "Counter", "Echo")
	fake := mod
	fake.Factories = []string{"Evil"}

	require.True(t, f.Announce(fake))
	require.False(t, f.Checked(mod.Hash))
	_, m, err := f.Resolve("Evil")
	require.NoError(t, err)
	require.Equal(t, mod.Hash, m.Hash)

	honest := mod
	honest.Factories = []string{"Counter"}
	require.True(t, f.Announce(honest), "merged")
	for _, ref := range []string{"Counter", "Evil"} {
		_, m, err = f.Resolve(ref)
		require.NoError(t, err)
		require.Equal(t, mod.Hash, m.Hash)
	}

	require.True(t, f.Add(mod), "the derived list replaces the announced ones")
	require.True(t, f.Checked(mod.Hash))
	got, _ := f.Lookup(mod.Hash)
	require.Equal(t, []string{"Counter", "Echo"}, got.Factories)
	_, _, err = f.Resolve("Evil")
	require.ErrorIs(t, err, wasmactor.ErrUnknownFactory)

	require.False(t, f.Announce(fake), "a checked list does not change")
	got, _ = f.Lookup(mod.Hash)
	require.Equal(t, []string{"Counter", "Echo"}, got.Factories)
	require.False(t, f.Forget(mod.Hash), "a checked module stays")

	other := testInfo([]byte("other"), 1, "Ghost")
	require.True(t, f.Announce(other))
	require.True(t, f.Forget(other.Hash))
	_, _, err = f.Resolve("Ghost")
	require.ErrorIs(t, err, wasmactor.ErrUnknownFactory)
	require.Len(t, f.Modules(), 1)
}

func TestFactoriesAnnouncedNamesAreBounded(t *testing.T) {
	f := NewFactories()
	h := HashOf([]byte("m"))
	for round := range 4 {
		names := make([]string, maxFactories)
		for i := range names {
			names[i] = "F" + itoa(round) + "_" + itoa(i)
		}
		f.Announce(ModuleInfo{Hash: h, Size: 1, Factories: names})
	}
	got, _ := f.Lookup(h)
	require.Len(t, got.Factories, MaxAnnouncedFactories)
	f.mu.RLock()
	defer f.mu.RUnlock()
	require.Len(t, f.byFactory, MaxAnnouncedFactories)
}
