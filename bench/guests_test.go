package bench

import (
	"bytes"
	"testing"

	"github.com/wasmactor/wasmactor/internal/guestbuild/guestbuildtest"
)

// Guest modules come from the main module's guest builder, like every other
// test's: this module's import path is under github.com/wasmactor/wasmactor,
// so its internal packages are in reach, and the builds share one cache.

// benchGuest is the main module's testdata/guests/bench (Sink, Source,
// Echo, ...).
func benchGuest(tb testing.TB) []byte {
	return guestbuildtest.Build(tb, "testdata/guests/bench")
}

// askerGuest is this module's guests/asker.
func askerGuest(tb testing.TB) []byte {
	return guestbuildtest.Build(tb, "./guests/asker")
}

// withCustomSection returns wasm with a custom section appended (id 0, the
// LEB128 size of the rest, the name, then the bytes). Runtimes skip custom
// sections, so the module stays valid and behaves the same, but its bytes,
// and so its hash, change.
func withCustomSection(wasm []byte, name string, data []byte) []byte {
	body := appendULEB(nil, uint64(len(name)))
	body = append(body, name...)
	body = append(body, data...)
	out := append(bytes.Clone(wasm), 0)
	out = appendULEB(out, uint64(len(body)))
	return append(out, body...)
}

func appendULEB(b []byte, v uint64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			c |= 0x80
		}
		b = append(b, c)
		if v == 0 {
			return b
		}
	}
}
