package host_test

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor/examples/bank/bankproto"
	"github.com/wasmactor/wasmactor/guest-sdk/typed"
	"github.com/wasmactor/wasmactor/host"
	"github.com/wasmactor/wasmactor/internal/guestbuild/guestbuildtest"
)

// TestTypedCallsAcrossNodes runs examples/bank on two nodes: typed calls
// from Go into guests on either node, and a typed ask from a guest on one
// node to a guest on the other (a transfer).
func TestTypedCallsAcrossNodes(t *testing.T) {
	c := newCluster(t, 2, host.Config{})
	n1, n2 := c.nodes[0], c.nodes[1]
	ctx := ctxT(t)
	deploy(t, n1, guestbuildtest.Build(t, "examples/bank"))

	// Spawn args given as a typed value travel in the typed form
	// (fxamacker/cbor calls the generated MarshalCBOR); the guest's
	// actor.Decode reads them through the generated UnmarshalCBOR.
	alice, err := n1.Spawn(ctx, "Account", host.SpawnOptions{Node: "n1", Name: "alice", Args: bankproto.Open{Owner: "alice", Balance: 100}})
	require.NoError(t, err)
	bob, err := n1.Spawn(ctx, "Account", host.SpawnOptions{Node: "n2", Name: "bob"})
	require.NoError(t, err)
	require.Eventually(t, func() bool { _, err := n1.Whereis(ctx, "bob"); return err == nil }, 5*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool { _, err := n2.Whereis(ctx, "alice"); return err == nil }, 5*time.Second, 5*time.Millisecond)

	// Host → guest, local and remote; the answer's type is inferred.
	bal, err := host.Call(ctx, n1, alice, bankproto.Deposit{Amount: 5})
	require.NoError(t, err)
	require.Equal(t, bankproto.Balance{Owner: "alice", Amount: 105}, bal)
	bal, err = host.Call[bankproto.GetBalance, bankproto.Balance](ctx, n2, alice, bankproto.GetBalance{})
	require.NoError(t, err)
	require.Equal(t, int64(105), bal.Amount)

	// Guest → guest across nodes: alice asks bob to deposit, then answers.
	bal, err = host.Call(ctx, n1, alice, bankproto.Transfer{To: "bob", Amount: 30})
	require.NoError(t, err)
	require.Equal(t, int64(75), bal.Amount)
	bal, err = host.Call(ctx, n1, bob, bankproto.GetBalance{})
	require.NoError(t, err)
	require.Equal(t, bankproto.Balance{Amount: 30}, bal)

	// A handler's error is the caller's error, as a typed.Error.
	_, err = host.Call(ctx, n2, bob, bankproto.Withdraw{Amount: 31})
	var te *typed.Error
	require.ErrorAs(t, err, &te)
	require.Equal(t, "insufficient funds: the balance is 30", te.Message)
	_, err = host.Call(ctx, n1, alice, bankproto.Transfer{To: "carol", Amount: 1})
	require.ErrorContains(t, err, `no account "carol"`)

	// A refused transfer takes nothing.
	require.NoError(t, n1.Kill(ctx, bob, ""))
	require.Eventually(t, func() bool { _, err := n1.Whereis(ctx, "bob"); return err != nil }, 5*time.Second, 5*time.Millisecond)
	_, err = host.Call(ctx, n1, alice, bankproto.Transfer{To: "bob", Amount: 10})
	require.ErrorContains(t, err, `no account "bob"`)
	bal, err = host.Call(ctx, n1, alice, bankproto.GetBalance{})
	require.NoError(t, err)
	require.Equal(t, int64(75), bal.Amount)

	// A transfer the other account refuses (its deposit fails) gives the
	// money back, and its error reaches the caller through both asks.
	rich, err := n1.Spawn(ctx, "Account", host.SpawnOptions{Node: "n2", Name: "rich", Args: bankproto.Open{Balance: math.MaxInt64 - 5}})
	require.NoError(t, err)
	require.Eventually(t, func() bool { _, err := n1.Whereis(ctx, "rich"); return err == nil }, 5*time.Second, 5*time.Millisecond)
	_, err = host.Call(ctx, n1, alice, bankproto.Transfer{To: "rich", Amount: 10})
	require.ErrorContains(t, err, "transfer to rich failed: the balance would overflow")
	bal, err = host.Call(ctx, n1, alice, bankproto.GetBalance{})
	require.NoError(t, err)
	require.Equal(t, int64(75), bal.Amount, "refunded")
	bal, err = host.Call(ctx, n2, rich, bankproto.GetBalance{})
	require.NoError(t, err)
	require.Equal(t, int64(math.MaxInt64-5), bal.Amount)

	// One-way typed sends keep their order with later calls.
	for range 3 {
		require.NoError(t, host.Send(ctx, n2, alice, bankproto.Deposit{Amount: 1}))
	}
	bal, err = host.Call(ctx, n2, alice, bankproto.GetBalance{})
	require.NoError(t, err)
	require.Equal(t, int64(78), bal.Amount)
}

// TestUnknownMessageTypeIsAClearError: a typed actor answers a type it has
// no handler for, or an untyped message, with a typed.Error naming what it
// handles; the caller's error matches typed.ErrUnknownType.
func TestUnknownMessageTypeIsAClearError(t *testing.T) {
	n := newNode(t, host.Config{})
	deploy(t, n, guestbuildtest.Build(t, "examples/bank"))
	ctx := ctxT(t)
	acct, err := n.Spawn(ctx, "Account", host.SpawnOptions{})
	require.NoError(t, err)

	for _, msg := range []any{
		bankproto.Open{Owner: "x"}, // a type of the protocol the Account does not handle
		map[string]any{"op": "get"},
	} {
		reply, err := n.Call(ctx, acct, msg)
		require.NoError(t, err, "the actor answers; the answer is the error")
		_, err = typed.Decode[bankproto.Balance](reply)
		require.ErrorIs(t, err, typed.ErrUnknownType)
		require.ErrorContains(t, err, "Account handles Deposit, GetBalance, Transfer, Withdraw")
	}

	// A body that does not decode names the field.
	reply, err := n.Call(ctx, acct, host.CBOR(append(typed.AppendTag(nil, bankproto.Deposit{}.MessageType()), 0xa1, 0x66, 'a', 'm', 'o', 'u', 'n', 't', 0x61, 'x')))
	require.NoError(t, err)
	_, err = typed.Decode[bankproto.Balance](reply)
	require.ErrorIs(t, err, typed.ErrMalformed)
	require.ErrorContains(t, err, "Deposit.amount: want an integer")
	require.False(t, errors.Is(err, typed.ErrUnknownType))
}
