package atomicfile

import (
	"io/fs"
	"os"
	"path/filepath"
)

// TempPrefix starts the name of every temporary file Write creates.
const TempPrefix = ".tmp-"

// Write replaces path with data, with mode perm. The directory must exist.
// Errors are the os package's, unwrapped, so callers add their own context.
func Write(path string, data []byte, perm fs.FileMode) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, TempPrefix+"*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		f.Close()
		return err
	}
	// CreateTemp makes mode 0600; Chmod, unlike a mode passed to open, is
	// not masked by the umask.
	if err = f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if err = f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	// Make the rename durable. Some filesystems refuse to sync a directory;
	// the data is in place then all the same, so that is not an error.
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
