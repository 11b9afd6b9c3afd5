package quic

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/wasmactor/wasmactor"
)

// cookieBytes is the randomness of a generated cookie (256 bits).
const cookieBytes = 32

// LoadOrCreateCookie returns the cluster cookie stored at path, creating the
// file (mode 0600, parent directories 0700) with 256 random bits written as
// hex if it does not exist.
//
// # Errors
//
// A file that group or others may read or write is refused, so a cookie
// that may have leaked is never used silently; the error says how to fix
// it. A cookie shorter than 16 bytes (after trimming surrounding white
// space) is refused too. Errors never contain the cookie.
func LoadOrCreateCookie(path string) ([]byte, error) {
	cookie, err := readCookie(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return cookie, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("cookie: %w", err)
	}
	var raw [cookieBytes]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, fmt.Errorf("cookie: %w", err)
	}
	text := make([]byte, hex.EncodedLen(cookieBytes), hex.EncodedLen(cookieBytes)+1)
	hex.Encode(text, raw[:])
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		// Another process created it first: use theirs.
		return readCookie(path)
	}
	if err != nil {
		return nil, fmt.Errorf("cookie: %w", err)
	}
	_, err = f.Write(append(text, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("cookie: write %s: %w", path, err)
	}
	return text, nil
}

func readCookie(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("cookie: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: cookie file %s is not a regular file", wasmactor.ErrBadArgument, path)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%w: cookie file %s has mode %04o, so group or others can access it; run: chmod 600 %s",
			wasmactor.ErrBadArgument, path, perm, path)
	}
	data := make([]byte, 0, 128)
	buf := make([]byte, 512)
	for len(data) <= 4096 {
		n, err := f.Read(buf)
		data = append(data, buf[:n]...)
		if err != nil {
			break
		}
	}
	if len(data) > 4096 {
		return nil, fmt.Errorf("%w: cookie file %s is over 4 KiB", wasmactor.ErrBadArgument, path)
	}
	cookie := bytes.TrimSpace(data)
	if len(cookie) < MinCookieLen {
		return nil, fmt.Errorf("%w: cookie in %s is %d bytes; at least %d are needed", wasmactor.ErrBadArgument, path, len(cookie), MinCookieLen)
	}
	return cookie, nil
}
