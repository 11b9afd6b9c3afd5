package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor/examples/bank/bankproto"
	"github.com/wasmactor/wasmactor/guest-sdk/typed"
	"github.com/wasmactor/wasmactor/host"
	"github.com/wasmactor/wasmactor/internal/guestbuild/guestbuildtest"
	"github.com/wasmactor/wasmactor/internal/proto"
	"github.com/wasmactor/wasmactor/transport"
)

// TestTypedSendAndCall: --type tags the JSON's CBOR with the type's tag;
// typed replies print as their body, error replies are the command's error.
func TestTypedSendAndCall(t *testing.T) {
	f := newFake(t)
	var msg proto.Message
	var answer []byte
	f.handle = func(_ context.Context, req transport.Control) ([]byte, error) {
		msg = proto.Message{}
		require.NoError(t, proto.Unmarshal(req.Body, &msg))
		if req.Kind == proto.KindSend {
			return proto.Marshal(proto.Empty{}), nil
		}
		return proto.Marshal(proto.CallReply{Payload: answer}), nil
	}
	r := f.run(t, "send", "alice", "--type", "Deposit", `{"amount": 5}`)
	require.Equal(t, 0, r.code, r.stderr)
	d, err := typed.Decode[bankproto.Deposit](msg.Payload)
	require.NoError(t, err)
	require.Equal(t, bankproto.Deposit{Amount: 5}, d)

	answer = typed.Marshal(bankproto.Balance{Owner: "alice", Amount: 7})
	r = f.run(t, "call", "alice", "--type", "GetBalance", `{}`)
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, "{\"owner\":\"alice\",\"amount\":7}\n", r.stdout)
	_, err = typed.Decode[bankproto.GetBalance](msg.Payload)
	require.NoError(t, err)

	r = f.run(t, "call", "alice", "--type", "GetBalance", `{}`, "-o", "json")
	require.Equal(t, 0, r.code, r.stderr)
	require.JSONEq(t, `{"target":"alice","type":"`+typed.Hex(typed.ID("Balance"))+`","reply":{"owner":"alice","amount":7}}`, r.stdout)

	answer = typed.Marshal(typed.Error{Message: "insufficient funds: the balance is 7"})
	r = f.run(t, "call", "alice", "--type", "Withdraw", `{"amount": 8}`)
	require.Equal(t, exitFailure, r.code)
	require.Equal(t, "wasmactor: call alice: the actor answered with an error: insufficient funds: the balance is 7\n", r.stderr)

	answer = typed.Marshal(typed.Error{Code: typed.CodeUnknownType, Message: "wasmactor: unknown message type 0x8: Account handles Deposit"})
	r = f.run(t, "call", "alice", "--type", "Nope", `{}`)
	require.Equal(t, exitRejected, r.code)
	require.Contains(t, r.stderr, "unknown message type")

	// An untyped call of a typed actor gets the same error, unwrapped.
	r = f.run(t, "call", "alice", `{"op": "get"}`)
	require.Equal(t, exitRejected, r.code)
	_, _, ok := typed.Split(msg.Payload)
	require.False(t, ok, "no --type, no tag")

	r = f.run(t, "call", "alice", "--type", "GetBalance", `{`)
	require.Equal(t, exitUsage, r.code)
}

// TestTypedCLIAgainstANode runs the CLI's typed path against a real node
// running examples/bank: JSON in, typed CBOR to the guest, a typed reply
// printed as JSON, and the guest's errors as the command's.
func TestTypedCLIAgainstANode(t *testing.T) {
	guestbuildtest.ShareCompileCache()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// A cold compile of a Go guest under the race detector on a loaded
	// machine can pass the default minute.
	n, err := host.Start(ctx, host.Config{Name: "n1", Listen: "127.0.0.1:0", DataDir: filepath.Join(dir, "n1"),
		CompileTimeout: 4 * time.Minute, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	defer func() { require.NoError(t, n.Close()) }()
	_, err = n.Deploy(ctx, guestbuildtest.Build(t, "examples/bank"))
	require.NoError(t, err)

	cli := func(args ...string) result {
		var out, errb bytes.Buffer
		d := osDeps()
		d.getenv = func(k string) string {
			switch k {
			case envCookieFile:
				return filepath.Join(dir, "n1", "cookie")
			case envNode:
				return n.Addr()
			}
			return ""
		}
		code := runWith(ctx, args, &out, &errb, d)
		return result{code: code, stdout: out.String(), stderr: errb.String()}
	}
	for _, name := range []string{"alice", "bob"} {
		r := cli("spawn", "Account", "--name", name, "--args", `{"owner": "`+name+`", "balance": 50}`)
		require.Equal(t, 0, r.code, r.stderr)
	}
	r := cli("call", "alice", "--type", "Transfer", `{"to": "bob", "amount": 20}`)
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, "{\"owner\":\"alice\",\"amount\":30}\n", r.stdout)
	r = cli("send", "bob", "--type", "Deposit", `{"amount": 1}`)
	require.Equal(t, 0, r.code, r.stderr)
	r = cli("call", "bob", "--type", "GetBalance", `{}`)
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, "{\"owner\":\"bob\",\"amount\":71}\n", r.stdout)

	r = cli("call", "bob", "--type", "Withdraw", `{"amount": 100}`)
	require.Equal(t, exitFailure, r.code)
	require.Equal(t, "wasmactor: call bob: the actor answered with an error: insufficient funds: the balance is 71\n", r.stderr)
	r = cli("call", "bob", "--type", "Deposit", `{"amount": "lots"}`)
	require.Equal(t, exitRejected, r.code)
	require.Contains(t, r.stderr, "Deposit.amount: want an integer")
	r = cli("call", "bob", "--type", "Steal", `{}`)
	require.Equal(t, exitRejected, r.code)
	require.Contains(t, r.stderr, "unknown message type "+typed.Hex(typed.ID("Steal"))+": Account handles Deposit, GetBalance, Transfer, Withdraw")
}

// TestGeneratedCodecsAreUpToDate: the committed generated files are what
// `wasmactor gen` writes today (gen --check, as CI would run it).
func TestGeneratedCodecsAreUpToDate(t *testing.T) {
	f := newFake(t)
	for _, dir := range []string{"../../examples/bank/bankproto", "../../guest-sdk/internal/testmsg", "../../guest-sdk/internal/testproto"} {
		r := f.run(t, "gen", "--check", dir)
		require.Equal(t, 0, r.code, "%s: %s", dir, r.stderr)
		require.Contains(t, r.stdout, "unchanged")
	}
	r := f.run(t, "gen", "--check", "-o", "json", "../../examples/bank/bankproto")
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, `"reply": "Balance"`)
	require.Contains(t, r.stdout, `"tag": "`+typed.Hex(typed.ID("Deposit"))+`"`)

	out := filepath.Join(t.TempDir(), "gen.go")
	r = f.run(t, "gen", "--check", "--out", out, "../../examples/bank/bankproto")
	require.Equal(t, exitFailure, r.code)
	require.Contains(t, r.stderr, "is not up to date")
	r = f.run(t, "gen", "--out", out, "../../examples/bank/bankproto")
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, "wrote "+out+": Balance, Deposit → Balance")
	r = f.run(t, "gen", t.TempDir())
	require.Equal(t, exitFailure, r.code)
	require.Contains(t, r.stderr, "no Go files")
}
