package client_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor/client"
	"github.com/wasmactor/wasmactor/examples/bank/bankproto"
	"github.com/wasmactor/wasmactor/guest-sdk/typed"
	"github.com/wasmactor/wasmactor/internal/guestbuild/guestbuildtest"
)

// TestTypedCallsThroughTheClient: typed calls and sends by name, through
// the node the client is connected to, to a typed guest on another node.
func TestTypedCallsThroughTheClient(t *testing.T) {
	n1, _, cookie := twoNodes(t)
	ctx := ctxT(t)
	c := dial(t, n1.Addr(), cookie)
	_, err := c.Deploy(ctx, guestbuildtest.Build(t, "examples/bank"))
	require.NoError(t, err)
	_, err = c.Spawn(ctx, "Account", client.SpawnOptions{Node: "n2", Name: "acct", Args: bankproto.Open{Owner: "o", Balance: 1}})
	require.NoError(t, err)

	require.Eventually(t, func() bool { return client.Send(ctx, c, "acct", bankproto.Deposit{Amount: 1}) == nil },
		10*time.Second, 10*time.Millisecond)
	bal, err := client.Call(ctx, c, "acct", bankproto.Deposit{Amount: 3})
	require.NoError(t, err)
	require.Equal(t, bankproto.Balance{Owner: "o", Amount: 5}, bal)

	_, err = client.Call(ctx, c, "acct", bankproto.Withdraw{Amount: 6})
	var te *typed.Error
	require.ErrorAs(t, err, &te)
	require.Contains(t, te.Message, "insufficient funds")

	reply, err := c.Call(ctx, "acct", bankproto.Balance{})
	require.NoError(t, err)
	_, err = typed.Decode[bankproto.Balance](reply)
	require.ErrorIs(t, err, typed.ErrUnknownType)
}
