package registry

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor"
)

func stores(t *testing.T) map[string]Store {
	ds, err := NewDirStore(filepath.Join(t.TempDir(), "modules"))
	require.NoError(t, err)
	t.Cleanup(func() { ds.Close() })
	return map[string]Store{"mem": NewMemStore(), "dir": ds}
}

func TestStoreContract(t *testing.T) {
	for name, s := range stores(t) {
		t.Run(name, func(t *testing.T) {
			wasm := []byte("\x00asm module one")
			info := testInfo(wasm, 10, "Counter", "Adder")
			_, err := s.Get(info.Hash)
			require.ErrorIs(t, err, wasmactor.ErrNotFound)
			_, ok := s.Info(info.Hash)
			require.False(t, ok)
			require.Empty(t, s.List())

			require.NoError(t, s.Put(info, wasm))
			got, err := s.Get(info.Hash)
			require.NoError(t, err)
			require.Equal(t, wasm, got)
			got[0] = 'X' // Get returns a copy
			got, err = s.Get(info.Hash)
			require.NoError(t, err)
			require.Equal(t, wasm, got)
			stored, ok := s.Info(info.Hash)
			require.True(t, ok)
			require.Equal(t, []string{"Adder", "Counter"}, stored.Factories)

			// Idempotent; an older DeployedAt changes nothing, a newer one wins.
			require.NoError(t, s.Put(info, wasm))
			older := info
			older.DeployedAt = 5
			require.NoError(t, s.Put(older, wasm))
			stored, _ = s.Info(info.Hash)
			require.EqualValues(t, 10, stored.DeployedAt)
			newer := info
			newer.DeployedAt = 20
			require.NoError(t, s.Put(newer, wasm))
			stored, _ = s.Info(info.Hash)
			require.EqualValues(t, 20, stored.DeployedAt)

			// Wrong hash, wrong size, invalid info.
			err = s.Put(info, []byte("other bytes"))
			require.ErrorIs(t, err, wasmactor.ErrBadModule)
			bad := info
			bad.Size++
			require.ErrorIs(t, s.Put(bad, wasm), wasmactor.ErrBadModule)
			bad = info
			bad.Factories = []string{"no spaces"}
			require.ErrorIs(t, s.Put(bad, wasm), wasmactor.ErrBadArgument)

			wasm2 := []byte("\x00asm module two")
			require.NoError(t, s.Put(testInfo(wasm2, 30, "Counter"), wasm2))
			list := s.List()
			require.Len(t, list, 2)
			require.Equal(t, HashOf(wasm2), list[0].Hash, "newest first")

			// The caller's slices are not aliased.
			mine := []string{"Z"}
			wasm3 := []byte("three")
			require.NoError(t, s.Put(testInfo(wasm3, 1, mine...), wasm3))
			mine[0] = "Changed"
			wasm3[0] = 'T'
			i3, _ := s.Info(HashOf([]byte("three")))
			require.Equal(t, []string{"Z"}, i3.Factories)
			b3, err := s.Get(HashOf([]byte("three")))
			require.NoError(t, err)
			require.Equal(t, []byte("three"), b3)
		})
	}
}

func TestStoreHammer(t *testing.T) {
	for name, s := range stores(t) {
		t.Run(name, func(t *testing.T) {
			var wg sync.WaitGroup
			for g := range 8 {
				wg.Go(func() {
					for i := range 20 {
						wasm := []byte(fmt.Sprintf("module %d", i%5))
						if err := s.Put(testInfo(wasm, int64(g), "F"), wasm); err != nil {
							t.Error(err)
							return
						}
						if b, err := s.Get(HashOf(wasm)); err != nil || !bytes.Equal(b, wasm) {
							t.Errorf("get: %v", err)
							return
						}
						s.List()
					}
				})
			}
			wg.Wait()
			require.Len(t, s.List(), 5)
			for _, m := range s.List() {
				require.EqualValues(t, 7, m.DeployedAt, "the latest DeployedAt wins")
			}
		})
	}
}

func TestDirStoreReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "mods")
	s, err := NewDirStore(dir)
	require.NoError(t, err)
	wasm := []byte("persist me")
	info := testInfo(wasm, 99, "Keeper")
	require.NoError(t, s.Put(info, wasm))

	st, err := os.Stat(dir)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), st.Mode().Perm())
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 3, "a blob, its meta file and the lock, no temporaries")
	for _, e := range entries {
		fi, err := e.Info()
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), e.Name())
	}

	// A leftover temporary and unrelated files are tolerated.
	require.NoError(t, os.WriteFile(filepath.Join(dir, tempPrefix+"123"), []byte("partial"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "README"), []byte("hi"), 0o600))

	require.NoError(t, s.Close())
	s2, err := NewDirStore(dir)
	require.NoError(t, err)
	got, ok := s2.Info(info.Hash)
	require.True(t, ok)
	require.Equal(t, info, got)
	b, err := s2.Get(info.Hash)
	require.NoError(t, err)
	require.Equal(t, wasm, b)
	require.Len(t, s2.List(), 1)
	require.Empty(t, s2.Corrupt())
	require.NoError(t, s2.Close())
	_, err = os.Stat(filepath.Join(dir, tempPrefix+"123"))
	require.ErrorIs(t, err, os.ErrNotExist, "temporaries are cleaned up at open")
}

func TestDirStoreCorrupt(t *testing.T) {
	wasm := []byte("the real module")
	info := testInfo(wasm, 1, "F")
	hex := info.Hash.String()
	tests := []struct {
		name    string
		damage  func(t *testing.T, dir string)
		atOpen  bool   // detected when opening (else on Get)
		wantErr string // in Get's error
	}{
		{"garbage meta", func(t *testing.T, dir string) {
			writeFile(t, dir, hex+metaExt, []byte{0xff, 0x00, 0x13})
		}, true, "meta file"},
		{"empty meta", func(t *testing.T, dir string) {
			writeFile(t, dir, hex+metaExt, nil)
		}, true, "meta file"},
		{"huge meta", func(t *testing.T, dir string) {
			writeFile(t, dir, hex+metaExt, bytes.Repeat([]byte{0}, maxMetaSize+1))
		}, true, "larger than"},
		{"meta for another module", func(t *testing.T, dir string) {
			b, err := EncodeModuleInfo(testInfo([]byte("other"), 1))
			require.NoError(t, err)
			writeFile(t, dir, hex+metaExt, b)
		}, true, "describes module"},
		{"blob missing", func(t *testing.T, dir string) {
			require.NoError(t, os.Remove(filepath.Join(dir, hex+blobExt)))
		}, true, "blob"},
		{"blob truncated", func(t *testing.T, dir string) {
			writeFile(t, dir, hex+blobExt, wasm[:5])
		}, true, "blob is 5 bytes"},
		{"blob flipped bit", func(t *testing.T, dir string) {
			b := bytes.Clone(wasm)
			b[3] ^= 1
			writeFile(t, dir, hex+blobExt, b)
		}, false, "does not match its hash"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := NewDirStore(dir)
			require.NoError(t, err)
			require.NoError(t, s.Put(info, wasm))
			tt.damage(t, dir)

			require.NoError(t, s.Close())
			s, err = NewDirStore(dir)
			require.NoError(t, err, "corruption never fails the open")
			ds := s
			if tt.atOpen {
				_, ok := s.Info(info.Hash)
				require.False(t, ok)
				require.Empty(t, s.List())
				require.Contains(t, ds.Corrupt(), info.Hash)
			}
			_, err = s.Get(info.Hash)
			require.ErrorIs(t, err, wasmactor.ErrNotFound, "a corrupt module counts as missing, so it is fetched again")
			require.ErrorContains(t, err, "corrupt on disk")
			require.ErrorContains(t, err, tt.wantErr)
			require.Contains(t, ds.Corrupt(), info.Hash)
			_, ok := s.Info(info.Hash)
			require.False(t, ok, "a module found corrupt leaves the listing")

			// Putting the module again repairs the entry.
			require.NoError(t, s.Put(info, wasm))
			b, err := s.Get(info.Hash)
			require.NoError(t, err)
			require.Equal(t, wasm, b)
			require.Empty(t, ds.Corrupt())
			require.NoError(t, s.Close())
			s, err = NewDirStore(dir)
			require.NoError(t, err)
			b, err = s.Get(info.Hash)
			require.NoError(t, err)
			require.Equal(t, wasm, b)
			require.NoError(t, s.Close())
		})
	}
}

// The store belongs to one owner: a second open fails and leaves the
// first one's write in progress (its temporary file) alone; once the first
// is closed, the directory opens again.
func TestDirStoreOneOwner(t *testing.T) {
	dir := t.TempDir()
	s, err := NewDirStore(dir)
	require.NoError(t, err)
	inFlight := filepath.Join(dir, tempPrefix+"in-flight")
	writeFile(t, dir, filepath.Base(inFlight), []byte("half a module"))

	_, err = NewDirStore(dir)
	require.ErrorContains(t, err, "module store "+dir+" is in use")
	_, err = os.Stat(inFlight)
	require.NoError(t, err, "the second open must not remove the first one's temporaries")

	wasm := []byte("still writable")
	require.NoError(t, s.Put(testInfo(wasm, 1, "F"), wasm))
	require.NoError(t, s.Close())
	require.NoError(t, s.Close())
	require.ErrorIs(t, s.Put(testInfo([]byte("late"), 2, "G"), []byte("late")), wasmactor.ErrClosed)

	s2, err := NewDirStore(dir)
	require.NoError(t, err)
	defer s2.Close()
	require.Len(t, s2.List(), 1)
	_, err = os.Stat(inFlight)
	require.ErrorIs(t, err, os.ErrNotExist, "a dead owner's temporaries are removed")
}

func TestDirStoreBadDir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	writeFile(t, filepath.Dir(file), "file", []byte("x"))
	_, err := NewDirStore(file)
	require.Error(t, err)
	_, err = NewDirStore(filepath.Join(file, "sub"))
	require.Error(t, err)
}

func writeFile(t *testing.T, dir, name string, b []byte) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), b, 0o600))
}

// A blob that rots on disk after it was stored, and before anything read
// it, is replaced when the module is put again (a redeploy, a pull): Put
// checks the stored copy instead of trusting its meta file. On main the
// second Put did nothing and the module stayed unreadable.
func TestDirStorePutRepairsARottenBlob(t *testing.T) {
	wasm := []byte("the real module")
	info := testInfo(wasm, 1, "F")
	dir := t.TempDir()
	s, err := NewDirStore(dir)
	require.NoError(t, err)
	require.NoError(t, s.Put(info, wasm))
	rotten := bytes.Clone(wasm)
	rotten[3] ^= 1 // same size: nothing notices until the hash is checked
	writeFile(t, dir, info.Hash.String()+blobExt, rotten)

	require.NoError(t, s.Put(info, wasm))
	b, err := s.Get(info.Hash)
	require.NoError(t, err)
	require.Equal(t, wasm, b)
	b, err = os.ReadFile(filepath.Join(dir, info.Hash.String()+blobExt))
	require.NoError(t, err)
	require.Equal(t, wasm, b, "the file itself is repaired")
}
