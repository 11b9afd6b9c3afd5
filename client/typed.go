package client

import (
	"context"

	"github.com/wasmactor/wasmactor/guest-sdk/typed"
)

// Call asks target (a PID as printed, or a registered name) with a typed
// request and returns its typed answer, whose type the request declares
// (//wasmactor:message reply=Resp), so it is inferred:
//
//	bal, err := client.Call(ctx, c, "alice", bank.Deposit{Amount: 5}) // bal is a bank.Balance
//
// It waits as [Client.Call] does.
//
// # Errors
//
// Those of [Client.Call]; a [*typed.Error] when the actor answered with
// one (errors.Is(err, [typed.ErrUnknownType]) for a type it does not
// handle); [typed.ErrUnexpectedReply] for an answer of another type.
func Call[Req typed.Request[Resp], Resp typed.Message, PResp typed.Ptr[Resp]](ctx context.Context, c *Client, target string, req Req) (Resp, error) {
	reply, err := c.Call(ctx, target, CBOR(typed.Marshal(req)))
	if err != nil {
		var zero Resp
		return zero, err
	}
	return typed.Decode[Resp, PResp](reply)
}

// Send delivers a typed message one way to target. Its errors are those
// of [Client.Send].
func Send[M typed.Message](ctx context.Context, c *Client, target string, m M) error {
	return c.Send(ctx, target, CBOR(typed.Marshal(m)))
}
