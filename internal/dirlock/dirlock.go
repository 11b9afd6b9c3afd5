// Package dirlock gives a directory to one owner at a time: an exclusive
// advisory lock on a file in it ([github.com/gofrs/flock]: flock(2) on
// Unix, LockFileEx on Windows). The operating system drops the lock when
// its holder exits, however it exits, so a crashed node leaves no stale
// lock behind. Two Locks in one process exclude each other too.
package dirlock

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/gofrs/flock"
)

// ErrHeld reports a directory locked by another owner.
var ErrHeld = errors.New("dirlock: directory is locked by another owner")

// Lock is a held directory lock.
type Lock struct{ f *flock.Flock }

// Take locks dir (which must exist) through the file name in it, created
// with mode 0600 if needed. It does not wait: if another owner holds the
// lock, the error matches [ErrHeld].
func Take(dir, name string) (*Lock, error) {
	f := flock.New(filepath.Join(dir, name))
	ok, err := f.TryLock()
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", f.Path(), err)
	}
	if !ok {
		return nil, ErrHeld
	}
	return &Lock{f}, nil
}

// Unlock releases the lock (the file stays). Safe to call more than once.
func (l *Lock) Unlock() error { return l.f.Unlock() }
