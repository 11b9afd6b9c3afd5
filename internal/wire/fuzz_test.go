package wire

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/wasmactor/wasmactor/transport"
)

// FuzzFrame checks that Split, Reader and ChunkReader agree on every input, never panic,
// never return a body over the cap, and round-trip what they accept.
func FuzzFrame(f *testing.F) {
	f.Add([]byte{0x00}, 16)
	f.Add(AppendFrame(nil, []byte("hello")), 16)
	f.Add(AppendFrame(AppendFrame(nil, []byte{1, 2}), []byte{3}), 2)
	f.Add(AppendHeader(nil, 1<<40), 1<<20)
	f.Add([]byte{0x80, 0x00}, 16)
	f.Add(append(AppendHeader(nil, 1<<20), 1, 2, 3), 1<<20)
	f.Add(append(AppendHeader(nil, 40000), make([]byte, 39999)...), 1<<16)
	f.Fuzz(func(t *testing.T, data []byte, max int) {
		if max < 0 {
			max = -max
		}
		if max < 0 {
			max = 0
		}
		r := NewReader(bytes.NewReader(data), max, 16)
		cr := NewChunkReader(&trickle{bytes.NewReader(data), 3}, max, 8)
		rest := data
		for {
			body, next, err := Split(rest, max)
			rbody, rerr := r.Next()
			cbody, cerr := cr.Next()
			if (cerr == nil) != (rerr == nil) || !bytes.Equal(cbody, rbody) ||
				errors.Is(cerr, transport.ErrFrameTooLarge) != errors.Is(rerr, transport.ErrFrameTooLarge) {
				t.Fatalf("chunk reader: %v, reader: %v", cerr, rerr)
			}
			if err != nil {
				if len(rest) == 0 {
					if !errors.Is(rerr, io.EOF) {
						t.Fatalf("reader at end: %v", rerr)
					}
				} else if rerr == nil || errors.Is(err, transport.ErrFrameTooLarge) != errors.Is(rerr, transport.ErrFrameTooLarge) {
					t.Fatalf("split %v, reader %v", err, rerr)
				}
				return
			}
			if rerr != nil || !bytes.Equal(body, rbody) {
				t.Fatalf("split ok, reader %v", rerr)
			}
			if len(body) > max {
				t.Fatalf("body of %d over cap %d", len(body), max)
			}
			if got := AppendFrame(nil, body); !bytes.Equal(got, rest[:len(rest)-len(next)]) {
				t.Fatalf("re-encoding differs")
			}
			rest = next
		}
	})
}

// FuzzEnvelopes checks the fast envelope decoder against the strict
// reflection decoder plus the batch cap (same accept/reject decision, same
// values) and that accepted batches re-encode canonically.
func FuzzEnvelopes(f *testing.F) {
	for _, envs := range [][]transport.Envelope{nil, sampleEnvelopes()[:3], {{Kind: 3, Payload: []byte{}}}} {
		f.Add(AppendEnvelopes(nil, envs))
	}
	f.Add([]byte{0x81, 0xa2, 0x04, 0x01, 0x04, 0x02})
	f.Add([]byte{0x9a, 0xff, 0xff, 0xff, 0xff, 0xa0})
	f.Add([]byte{0x81, 0xa1, 0x09, 0x01})
	f.Add([]byte{0x81, 0xa1, 0x08, 0x01})
	f.Add([]byte{0x82, 0xa2, 0x07, 0x41, 0x01, 0x08, 0x40, 0xa1, 0x08, 0x42, 0x00, 0x01})
	f.Add(AppendEnvelopes(nil, []transport.Envelope{{Kind: 2, To: 1, Ref: 9, Payload: []byte{0xa0}, Trace: make([]byte, 26)}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		fast, ferr := DecodeEnvelopes(data)
		var slow []transport.Envelope
		serr := Unmarshal(data, &slow)
		if serr == nil && slow == nil {
			serr = errors.New("null")
		}
		if serr == nil && len(slow) > MaxBatch {
			serr = errors.New("over MaxBatch")
		}
		if (ferr == nil) != (serr == nil) {
			t.Fatalf("fast err %v, strict err %v", ferr, serr)
		}
		if ferr != nil {
			return
		}
		requireSameEnvelopes(t, slow, fast)
		enc := AppendEnvelopes(nil, fast)
		again, err := DecodeEnvelopes(enc)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		requireSameEnvelopes(t, fast, again)
		if want, _ := Marshal(fast); !bytes.Equal(want, enc) {
			t.Fatalf("encoders disagree")
		}
	})
}
