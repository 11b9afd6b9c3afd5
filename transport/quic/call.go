package quic

import (
	"context"
	"errors"
	"fmt"
	"io"

	qgo "github.com/quic-go/quic-go"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/wire"
	"github.com/wasmactor/wasmactor/transport"
)

// callReq opens a call stream; callResp answers it.
type callReq struct {
	Kind uint16 `cbor:"1,keyasint"`
	Body []byte `cbor:"2,keyasint,omitempty"`
}

type callResp struct {
	Body    []byte `cbor:"1,keyasint,omitempty"`
	Failed  bool   `cbor:"2,keyasint,omitempty"`
	Code    uint16 `cbor:"3,keyasint,omitempty"`
	Message string `cbor:"4,keyasint,omitempty"`
}

// blobReq opens a blob stream; blobResp precedes the blob's raw bytes.
type blobReq struct {
	Key string `cbor:"1,keyasint"`
	Max uint64 `cbor:"2,keyasint"`
}

type blobResp struct {
	Size     uint64 `cbor:"1,keyasint,omitempty"`
	Failed   bool   `cbor:"2,keyasint,omitempty"`
	Code     uint16 `cbor:"3,keyasint,omitempty"`
	Message  string `cbor:"4,keyasint,omitempty"`
	TooLarge bool   `cbor:"5,keyasint,omitempty"`
}

func (s *session) acceptStreams() {
	for {
		str, err := s.conn.AcceptStream(s.ctx)
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveStream(str)
		}()
	}
}

func resetStream(str *qgo.Stream, code qgo.StreamErrorCode) {
	str.CancelRead(code)
	str.CancelWrite(code)
}

func (s *session) serveStream(str *qgo.Stream) {
	r := wire.NewReader(str, s.t.cfg.MaxFrame, 4096)
	kind, err := r.Buffered().ReadByte()
	if err != nil {
		resetStream(str, StreamProtocol)
		return
	}
	if kind == streamCall {
		if s.peer.Client {
			r.SetMax(s.t.cfg.MaxClientRequest)
		} else {
			r.SetMax(s.t.cfg.MaxRequest)
		}
	}
	body, err := r.Next()
	if err != nil {
		if errors.Is(err, transport.ErrFrameTooLarge) {
			resetStream(str, StreamFrameTooLarge)
		} else {
			resetStream(str, StreamProtocol)
		}
		return
	}
	// The request is exactly one frame: the caller's FIN follows it. Reading
	// the end also completes our receive side, which returns the stream's
	// credit to the caller.
	if !atEOF(r) {
		resetStream(str, StreamProtocol)
		return
	}
	if !s.waitReady() {
		return
	}
	ctx := str.Context() // cancelled when the caller gives up (STOP_SENDING)
	switch kind {
	case streamCall:
		var req callReq
		if err := wire.Unmarshal(body, &req); err != nil {
			resetStream(str, StreamProtocol)
			return
		}
		var resp callResp
		out, err := s.t.h.HandleCall(ctx, s.peer, transport.Control{Kind: req.Kind, Body: req.Body})
		switch {
		case err != nil:
			resp = failure(err)
		case len(out)+64 > s.peerMax:
			resp = callResp{Failed: true, Message: fmt.Sprintf("reply of %d bytes exceeds the caller's frame cap of %d", len(out), s.peerMax)}
		default:
			resp.Body = out
		}
		writeFrameAndClose(str, resp)
	case streamBlob:
		var req blobReq
		if err := wire.Unmarshal(body, &req); err != nil {
			resetStream(str, StreamProtocol)
			return
		}
		data, err := s.t.h.ServeBlob(ctx, s.peer, req.Key)
		switch {
		case err != nil:
			f := failure(err)
			writeFrameAndClose(str, blobResp{Failed: true, Code: f.Code, Message: f.Message})
		case uint64(len(data)) > req.Max:
			writeFrameAndClose(str, blobResp{Failed: true, TooLarge: true, Size: uint64(len(data)),
				Message: fmt.Sprintf("blob %s is %d bytes, over the limit of %d", req.Key, len(data), req.Max)})
		default:
			hb, _ := wire.Marshal(blobResp{Size: uint64(len(data))})
			if _, err := str.Write(wire.AppendFrame(nil, hb)); err != nil {
				return
			}
			if _, err := str.Write(data); err != nil {
				return
			}
			str.Close()
		}
	default:
		resetStream(str, StreamProtocol)
	}
}

func failure(err error) callResp {
	var re *transport.RemoteError
	if errors.As(err, &re) {
		return callResp{Failed: true, Code: re.Code, Message: re.Message}
	}
	return callResp{Failed: true, Message: err.Error()}
}

func writeFrameAndClose(str *qgo.Stream, v any) {
	b, err := wire.Marshal(v)
	if err != nil {
		resetStream(str, StreamProtocol)
		return
	}
	if _, err := str.Write(wire.AppendFrame(nil, b)); err == nil {
		str.Close()
	}
}

// openRequest opens a stream of the given kind and writes the request
// frame; ctx cancels the stream. The returned stop must be called.
func openRequest(ctx context.Context, conn *qgo.Conn, kind byte, peerMax int, v any) (*qgo.Stream, func() bool, error) {
	body, err := wire.Marshal(v)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", wasmactor.ErrBadArgument, err)
	}
	if len(body)+wire.MaxHeaderLen > peerMax {
		return nil, nil, &wire.FrameTooLargeError{Size: uint64(len(body)), Max: peerMax}
	}
	str, err := conn.OpenStreamSync(ctx)
	if err != nil {
		return nil, nil, err
	}
	stop := context.AfterFunc(ctx, func() { resetStream(str, StreamCanceled) })
	buf := wire.AppendFrame(append(make([]byte, 0, len(body)+wire.MaxHeaderLen+1), kind), body)
	if _, err := str.Write(buf); err != nil {
		stop()
		return nil, nil, err
	}
	str.Close()
	return str, stop, nil
}

// requestError explains why a call or blob fetch on a stream failed.
func requestError(ctx context.Context, node string, err error) error {
	if ctx.Err() != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("%w: %s: %w", wasmactor.ErrTimeout, node, ctx.Err())
		}
		return ctx.Err()
	}
	if code, ok := streamCode(err); ok {
		switch code {
		case StreamFrameTooLarge:
			return fmt.Errorf("%w: %s refused the request", transport.ErrFrameTooLarge, node)
		case StreamTooLarge:
			return fmt.Errorf("%w: %s: blob over the limit", wasmactor.ErrTooLarge, node)
		}
		return fmt.Errorf("%w: %s reset the stream (code %#x)", wasmactor.ErrBadArgument, node, code)
	}
	var tooLarge *wire.FrameTooLargeError
	if errors.As(err, &tooLarge) || errors.Is(err, wasmactor.ErrBadArgument) {
		return err
	}
	return fmt.Errorf("%w: %s: %v", transport.ErrNodeDown, node, err)
}

func doCall(ctx context.Context, conn *qgo.Conn, node string, peerReq, ownMax int, req transport.Control) ([]byte, error) {
	str, stop, err := openRequest(ctx, conn, streamCall, peerReq, callReq{Kind: req.Kind, Body: req.Body})
	if err != nil {
		return nil, requestError(ctx, node, err)
	}
	defer stop()
	r := wire.NewReader(str, ownMax, 4096)
	body, err := r.Next()
	if err != nil {
		if errors.Is(err, transport.ErrFrameTooLarge) {
			resetStream(str, StreamFrameTooLarge)
		}
		return nil, requestError(ctx, node, err)
	}
	var resp callResp
	if err := wire.Unmarshal(body, &resp); err != nil || !atEOF(r) {
		resetStream(str, StreamProtocol)
		return nil, fmt.Errorf("%w: %s sent a malformed reply", wasmactor.ErrBadArgument, node)
	}
	if resp.Failed {
		return nil, &transport.RemoteError{Code: resp.Code, Message: resp.Message}
	}
	return resp.Body, nil
}

func fetchBlob(ctx context.Context, conn *qgo.Conn, node string, peerMax int, key string, max int64) ([]byte, error) {
	if max < 0 {
		max = 0
	}
	str, stop, err := openRequest(ctx, conn, streamBlob, peerMax, blobReq{Key: key, Max: uint64(max)})
	if err != nil {
		return nil, requestError(ctx, node, err)
	}
	defer stop()
	r := wire.NewReader(str, maxHandshakeFrame, 64<<10)
	body, err := r.Next()
	if err != nil {
		return nil, requestError(ctx, node, err)
	}
	var resp blobResp
	if err := wire.Unmarshal(body, &resp); err != nil {
		resetStream(str, StreamProtocol)
		return nil, err
	}
	switch {
	case resp.TooLarge:
		return nil, fmt.Errorf("%w: %s", wasmactor.ErrTooLarge, resp.Message)
	case resp.Failed:
		return nil, &transport.RemoteError{Code: resp.Code, Message: resp.Message}
	case resp.Size > uint64(max):
		resetStream(str, StreamTooLarge)
		return nil, fmt.Errorf("%w: blob %s is %d bytes, over the limit of %d", wasmactor.ErrTooLarge, key, resp.Size, max)
	}
	// Allocated as the bytes arrive: the size is the peer's word.
	data, err := wire.ReadN(r.Buffered(), int(resp.Size))
	if err != nil {
		return nil, requestError(ctx, node, err)
	}
	if !atEOF(r) {
		resetStream(str, StreamProtocol)
		return nil, fmt.Errorf("%w: %s sent more than the blob", wasmactor.ErrBadArgument, node)
	}
	return data, nil
}

// atEOF reads the end of the stream after its last frame. quic-go counts a
// stream as finished (and gives its credit back to the opener) only once
// the application has read the FIN.
func atEOF(r *wire.Reader) bool {
	_, err := r.Buffered().ReadByte()
	return errors.Is(err, io.EOF)
}
