package wire

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/transport"
)

const (
	// MaxHeaderLen is the longest frame header (a uvarint of a 64-bit length).
	MaxHeaderLen = 10
	// DefaultMaxFrame is the frame cap transports use unless configured.
	DefaultMaxFrame = 1 << 20
)

// ErrMalformed reports bytes that are not a valid frame or body. It wraps
// [wasmactor.ErrBadArgument].
var ErrMalformed = fmt.Errorf("%w: malformed frame", wasmactor.ErrBadArgument)

// FrameTooLargeError reports a frame whose declared length exceeds the cap.
// It matches [transport.ErrFrameTooLarge] with errors.Is.
type FrameTooLargeError struct {
	Size uint64 // declared body length
	Max  int    // the cap in force
}

func (e *FrameTooLargeError) Error() string {
	return "wasmactor: frame of " + strconv.FormatUint(e.Size, 10) + " bytes exceeds the cap of " + strconv.Itoa(e.Max)
}

// Unwrap makes errors.Is(err, transport.ErrFrameTooLarge) true.
func (e *FrameTooLargeError) Unwrap() error { return transport.ErrFrameTooLarge }

// AppendHeader appends the header of a frame whose body is n bytes.
func AppendHeader(dst []byte, n int) []byte {
	x := uint64(n)
	for x >= 0x80 {
		dst = append(dst, byte(x)|0x80)
		x >>= 7
	}
	return append(dst, byte(x))
}

// HeaderLen is the length of the header of a frame with an n-byte body.
func HeaderLen(n int) int {
	l := 1
	for x := uint64(n); x >= 0x80; x >>= 7 {
		l++
	}
	return l
}

// AppendFrame appends body as one frame.
func AppendFrame(dst, body []byte) []byte {
	return append(AppendHeader(dst, len(body)), body...)
}

// Split parses the first frame of b. It returns io.ErrUnexpectedEOF when b
// holds only part of a frame, a [*FrameTooLargeError] when the declared
// length exceeds max, and [ErrMalformed] for a bad header. body aliases b.
func Split(b []byte, max int) (body, rest []byte, err error) {
	n, hl, err := parseHeader(b)
	if err != nil {
		return nil, b, err
	}
	if n > uint64(max) {
		return nil, b, &FrameTooLargeError{Size: n, Max: max}
	}
	if uint64(len(b)-hl) < n {
		return nil, b, io.ErrUnexpectedEOF
	}
	end := hl + int(n)
	return b[hl:end:end], b[end:], nil
}

func parseHeader(b []byte) (n uint64, hl int, err error) {
	var shift uint
	for i := 0; i < MaxHeaderLen; i++ {
		if i >= len(b) {
			return 0, 0, io.ErrUnexpectedEOF
		}
		c := b[i]
		if i == MaxHeaderLen-1 && c > 1 {
			return 0, 0, fmt.Errorf("%w: length overflows 64 bits", ErrMalformed)
		}
		n |= uint64(c&0x7f) << shift
		if c < 0x80 {
			if c == 0 && i > 0 {
				return 0, 0, fmt.Errorf("%w: non-minimal length", ErrMalformed)
			}
			return n, i + 1, nil
		}
		shift += 7
	}
	return 0, 0, fmt.Errorf("%w: length overflows 64 bits", ErrMalformed)
}

// Reader reads frames from a stream.
type Reader struct {
	r   *bufio.Reader
	max int
}

// NewReader reads frames of at most max bytes from r through a buffer of
// bufSize bytes (4096 if bufSize <= 0).
func NewReader(r io.Reader, max, bufSize int) *Reader {
	if bufSize <= 0 {
		bufSize = 4096
	}
	return &Reader{r: bufio.NewReaderSize(r, bufSize), max: max}
}

// SetMax changes the cap for the frames that follow.
func (r *Reader) SetMax(max int) { r.max = max }

// Buffered exposes the underlying buffered reader, for protocols that switch
// from frames to raw bytes on the same stream.
func (r *Reader) Buffered() *bufio.Reader { return r.r }

// Next reads one frame and returns its body in a new slice the caller owns.
// The declared length is checked against the cap before anything is
// allocated, and the body is allocated as its bytes arrive (see [ReadN]).
// io.EOF means the stream ended cleanly between frames;
// io.ErrUnexpectedEOF that it ended inside one.
func (r *Reader) Next() ([]byte, error) {
	n, err := r.header()
	if err != nil {
		return nil, err
	}
	if n > uint64(r.max) {
		return nil, &FrameTooLargeError{Size: n, Max: r.max}
	}
	return ReadN(r.r, int(n))
}

// firstAlloc is the most a reader allocates for a body before its bytes
// have arrived.
const firstAlloc = 16 << 10

// ReadN reads exactly n bytes from r into a new slice. A length a peer
// declares costs memory only as its bytes arrive: at most 16 KiB up front,
// then the buffer doubles each time it fills (up to n), so at most about
// twice what was received is allocated. io.ErrUnexpectedEOF means r ended
// before n bytes.
func ReadN(r io.Reader, n int) ([]byte, error) {
	b := make([]byte, 0, min(n, firstAlloc))
	for len(b) < n {
		if len(b) == cap(b) {
			nb := make([]byte, len(b), min(n, 2*cap(b)))
			copy(nb, b)
			b = nb
		}
		m, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+m]
		if err != nil && len(b) < n {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	return b, nil
}

func (r *Reader) header() (uint64, error) {
	var n uint64
	var shift uint
	for i := 0; i < MaxHeaderLen; i++ {
		c, err := r.r.ReadByte()
		if err != nil {
			if i > 0 && errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		if i == MaxHeaderLen-1 && c > 1 {
			return 0, fmt.Errorf("%w: length overflows 64 bits", ErrMalformed)
		}
		n |= uint64(c&0x7f) << shift
		if c < 0x80 {
			if c == 0 && i > 0 {
				return 0, fmt.Errorf("%w: non-minimal length", ErrMalformed)
			}
			return n, nil
		}
		shift += 7
	}
	return 0, fmt.Errorf("%w: length overflows 64 bits", ErrMalformed)
}

// ChunkReader reads frames from a stream into large chunks and returns
// bodies that alias them: one allocation and one copy (the stream's) per
// chunk instead of per frame. A chunk is never written again once a body
// in it was returned, so callers may keep bodies (and slices of them); the
// price is that a kept body keeps its whole chunk alive.
type ChunkReader struct {
	r     io.Reader
	max   int
	size  int // the next chunk's size, between minChunk and max(maxSize, a frame)
	maxSz int
	buf   []byte // the current chunk; buf[start:] is unparsed
	start int
	eof   error
}

// minChunk is the smallest chunk a ChunkReader allocates.
const minChunk = 4096

// NewChunkReader reads frames of at most max bytes from r, in chunks of up
// to chunkSize bytes (larger for a frame that does not fit). Chunks start
// small and double while reads fill them, so a quiet stream does not pay
// for zeroing large chunks and a busy one makes few allocations.
func NewChunkReader(r io.Reader, max, chunkSize int) *ChunkReader {
	return &ChunkReader{r: r, max: max, size: min(minChunk, chunkSize), maxSz: chunkSize}
}

// Buffered reports whether a complete frame is already buffered, so Next
// will not block.
func (c *ChunkReader) Buffered() bool {
	_, _, err := Split(c.buf[c.start:], c.max)
	return err == nil
}

// Next returns the next frame's body. Errors are those of [Reader.Next].
func (c *ChunkReader) Next() ([]byte, error) {
	for {
		data := c.buf[c.start:]
		body, rest, err := Split(data, c.max)
		if err == nil {
			c.start = len(c.buf) - len(rest)
			return body, nil
		}
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, err
		}
		if c.eof != nil {
			if len(data) == 0 {
				return nil, c.eof
			}
			return nil, io.ErrUnexpectedEOF
		}
		// The frame (or, before its header is in, a header) must end up in
		// one chunk. A new chunk is the usual size, or for a larger frame
		// twice what has arrived of it (at most the frame): memory follows
		// the bytes received, not the length the peer declared.
		need := MaxHeaderLen
		if n, hl, herr := parseHeader(data); herr == nil {
			need = hl + int(n)
		}
		if cap(c.buf)-c.start < need && (c.start > 0 || len(c.buf) == cap(c.buf)) {
			nb := make([]byte, len(data), max(c.size, min(need, 2*len(data))))
			copy(nb, data)
			c.buf, c.start = nb, 0
		}
		room := cap(c.buf) - len(c.buf)
		n, err := c.r.Read(c.buf[len(c.buf):cap(c.buf)])
		c.buf = c.buf[:len(c.buf)+n]
		switch {
		case n == room && c.size < c.maxSz:
			c.size = min(2*c.size, c.maxSz)
		case n < room/8 && c.size > minChunk:
			c.size /= 2
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				c.eof = io.EOF
				continue
			}
			if n == 0 {
				return nil, err
			}
			c.eof = err
		}
	}
}
