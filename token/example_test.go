package token_test

import (
	"fmt"
	"time"

	"github.com/wasmactor/wasmactor/token"
)

// A cookie holder mints an operator token for Account actors named bank/*;
// its holder narrows it further without the cookie, and a node verifies
// the result.
func Example() {
	cookie := []byte("0123456789abcdef0123456789abcdef")
	auth, _ := token.NewAuthority(cookie)
	tok, _ := auth.Mint(
		token.Caveat{Role: token.Operator},
		token.Caveat{Factories: []string{"Account"}},
		token.Caveat{Names: []string{"bank/*"}},
	)
	text := tok.String() // give this to the client

	held, _ := token.Parse(text)
	narrow, _ := held.Narrow(token.Caveat{Names: []string{"bank/alice"}})

	g, err := auth.Verify(narrow, time.Now())
	fmt.Println(g.Role, err)
	fmt.Println(g.AllowsFactory("Account"), g.AllowsName("bank/alice"), g.AllowsName("bank/bob"))
	// Output:
	// operator <nil>
	// true true false
}
