// Command bank is a guest module with one factory, Account, written with
// the typed API: its protocol is Go types (package bankproto) with
// generated codecs, its handlers are methods routed by message type, and a
// transfer is an asynchronous typed ask to another Account.
//
// # Messages
//
// See bankproto; every request is answered with a Balance, or with an
// error (a typed.Error) such as "insufficient funds". From the CLI:
//
//	wasmactor spawn Account --name alice --args '{"owner": "alice", "balance": 100}'
//	wasmactor spawn Account --name bob
//	wasmactor call alice --type Transfer '{"to": "bob", "amount": 30}'   # {"owner":"alice","amount":70}
//	wasmactor call bob --type GetBalance '{}'                            # {"amount":30}
//
// # Build and run
//
//	go generate ./examples/bank/bankproto   # after changing the protocol
//	wasmactor build examples/bank -o bank.wasm
//	wasmactor deploy bank.wasm
package main

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/wasmactor/wasmactor/examples/bank/bankproto"
	"github.com/wasmactor/wasmactor/guest-sdk/actor"
	"github.com/wasmactor/wasmactor/guest-sdk/typed"
)

// transferTimeout bounds the wait for the other account.
const transferTimeout = 2 * time.Second

// Account holds one balance.
type Account struct {
	owner   string
	balance int64
}

var routes = actor.NewRouter(
	actor.Handle((*Account).Deposit),
	actor.Handle((*Account).Withdraw),
	actor.Handle((*Account).GetBalance),
	actor.Handle((*Account).Transfer),
)

// Receive routes each message to its handler by type.
func (a *Account) Receive(ctx *actor.Context, msg actor.Message) { routes.Receive(a, ctx, msg) }

// Init reads the optional Open arguments (typed or plain JSON from the CLI).
func (a *Account) Init(_ *actor.Context, args actor.Message) error {
	if args.Len() == 0 {
		return nil
	}
	open, err := actor.Decode[bankproto.Open](args)
	if err != nil {
		return err
	}
	if open.Balance < 0 {
		return errors.New("a new account cannot be overdrawn")
	}
	a.owner, a.balance = open.Owner, open.Balance
	return nil
}

var errAmount = errors.New("the amount must be positive")

// Deposit adds to the balance.
func (a *Account) Deposit(_ *actor.Context, d bankproto.Deposit) (bankproto.Balance, error) {
	if d.Amount <= 0 {
		return bankproto.Balance{}, errAmount
	}
	if d.Amount > math.MaxInt64-a.balance {
		return bankproto.Balance{}, errors.New("the balance would overflow")
	}
	a.balance += d.Amount
	return a.report(), nil
}

// Withdraw takes from the balance.
func (a *Account) Withdraw(_ *actor.Context, w bankproto.Withdraw) (bankproto.Balance, error) {
	if err := a.take(w.Amount); err != nil {
		return bankproto.Balance{}, err
	}
	return a.report(), nil
}

// GetBalance reads the balance.
func (a *Account) GetBalance(*actor.Context, bankproto.GetBalance) (bankproto.Balance, error) {
	return a.report(), nil
}

// Transfer withdraws now and asks the other account to deposit; the
// answer waits for the other account's, which arrives in a later turn.
func (a *Account) Transfer(ctx *actor.Context, t bankproto.Transfer) (bankproto.Balance, error) {
	to, err := ctx.Whereis(t.To)
	if err != nil {
		return bankproto.Balance{}, fmt.Errorf("no account %q: %w", t.To, err)
	}
	if err := a.take(t.Amount); err != nil {
		return bankproto.Balance{}, err
	}
	done := actor.Defer[bankproto.Balance](ctx)
	err = actor.Ask(ctx, to, bankproto.Deposit{Amount: t.Amount}, transferTimeout,
		func(ctx *actor.Context, _ bankproto.Balance, err error) {
			if err != nil {
				a.balance += t.Amount // the money comes back
				_ = done.Fail(ctx, fmt.Errorf("transfer to %s failed: %w", t.To, err))
				return
			}
			_ = done.Reply(ctx, a.report())
		})
	if err != nil {
		a.balance += t.Amount
		_ = done.Fail(ctx, fmt.Errorf("transfer to %s failed: %w", t.To, err))
	}
	return bankproto.Balance{}, nil // answered through done
}

func (a *Account) take(amount int64) error {
	if amount <= 0 {
		return errAmount
	}
	if amount > a.balance {
		return fmt.Errorf("insufficient funds: the balance is %d", a.balance)
	}
	a.balance -= amount
	return nil
}

func (a *Account) report() bankproto.Balance {
	return bankproto.Balance{Owner: a.owner, Amount: a.balance}
}

// Snapshot captures the account as its Open arguments, in the typed form.
func (a *Account) Snapshot() ([]byte, error) {
	return typed.Marshal(bankproto.Open{Owner: a.owner, Balance: a.balance}), nil
}

// Restore rebuilds the account from a snapshot.
func (a *Account) Restore(state []byte) error {
	var open bankproto.Open
	if err := typed.Unmarshal(state, &open); err != nil {
		return err
	}
	a.owner, a.balance = open.Owner, open.Balance
	return nil
}

func init() {
	actor.Register("Account", func() actor.Actor { return &Account{} })
}

// main never runs: the host loads the module as a WASI reactor.
func main() {}
