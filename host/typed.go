package host

import (
	"context"

	"github.com/wasmactor/wasmactor/guest-sdk/typed"
)

// Call asks the actor with a typed request and returns its typed answer,
// whose type the request declares (//wasmactor:message reply=Resp), so it
// is inferred:
//
//	bal, err := host.Call(ctx, node, pid, bank.Deposit{Amount: 5}) // bal is a bank.Balance
//
// The request is encoded by its generated codec, not by reflection; the
// answer is decoded likewise. Call waits as [Node.Call] does.
//
// # Errors
//
// Those of [Node.Call]; a [*typed.Error] when the actor answered with one
// (errors.Is(err, [typed.ErrUnknownType]) for a type it does not handle,
// [typed.ErrMalformed] for a request it could not decode); and
// [typed.ErrUnexpectedReply] for an answer of another type.
func Call[Req typed.Request[Resp], Resp typed.Message, PResp typed.Ptr[Resp]](ctx context.Context, n *Node, to PID, req Req) (Resp, error) {
	reply, err := n.Call(ctx, to, CBOR(typed.Marshal(req)))
	if err != nil {
		var zero Resp
		return zero, err
	}
	return typed.Decode[Resp, PResp](reply)
}

// Send delivers a typed message one way, encoded by its generated codec.
// Its errors are those of [Node.Send].
func Send[M typed.Message](ctx context.Context, n *Node, to PID, m M) error {
	return n.Send(ctx, to, CBOR(typed.Marshal(m)))
}
