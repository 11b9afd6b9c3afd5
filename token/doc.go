// Package token mints and verifies the capability tokens clients (the CLI,
// package client) present to a wasmactor cluster instead of the cookie.
//
// The cookie is the cluster's root secret: nodes prove it to each other,
// and a client that proves it may do anything (role admin). A token gives
// a client less: a [Role] ([Viewer], [Operator] or [Admin]) and optionally
// the factories and names of the actors in its reach and an expiry. Any
// node verifies any token from the cookie alone, without a database.
//
//	auth, _ := token.NewAuthority(cookie)
//	tok, _ := auth.Mint(
//		token.Caveat{Role: token.Operator},
//		token.Caveat{Factories: []string{"Account"}},
//		token.Caveat{Names: []string{"bank/*"}},
//		token.Caveat{Expires: time.Now().Add(24 * time.Hour)},
//	)
//	fmt.Println(tok) // wat1.o2EBAk...
//
// # Format
//
// A token is an id (16 random bytes), the cluster's public signing key, a
// list of caveats and a secret, encoded as CBOR and written as [Prefix]
// followed by base64url. The secret is the end of an HMAC-SHA256 chain, as
// in macaroons:
//
//	root   = HKDF-SHA256(cookie, info "wasmactor token root key v1")
//	s0     = HMAC(root, "wasmactor token v1" || 0x00 || id || key)
//	s(i)   = HMAC(s(i-1), caveat i, its CBOR bytes exactly as minted)
//	secret = s(n)
//
// # Narrowing, never widening
//
// Anyone holding a token can append a caveat and compute the next secret
// ([Token.Narrow]); removing or changing a caveat would mean inverting
// HMAC. Every caveat only restricts: the authority of a token is the least
// role any caveat names, the factories and names that match a pattern of
// every list, and the earliest expiry. A verifier decodes each caveat
// strictly and refuses a token with a caveat it does not understand, an
// empty one, or a key present with a zero value, so no caveat is ever
// skipped.
//
// # Handshake
//
// A token's secret never crosses the wire. A client sends the token
// without it ([Token.Wire]) and proves it holds it with an HMAC keyed by the
// secret over the handshake transcript, which is bound to the TLS session
// ([Token.Prove]); the node recomputes the secret from the cookie
// ([Authority.Check]). The node answers with an Ed25519 signature over the
// transcript made with a key derived from the cookie ([Authority.Sign]),
// whose public half every token carries ([Token.VerifyNode]): a token holder
// can tell a node from anyone else, including another token holder.
// docs/protocol.md has the messages.
//
// # What a token cannot do
//
// It cannot be revoked before it expires, except by changing the cookie
// (which revokes every token and requires restarting every node). Caveats
// are not secret: anyone who holds a token can read them ([Token.Claims]),
// and so can whatever a client connects to, since the client proves first
// (without mutual TLS, a man in the middle could learn them, but could
// neither use the token nor pass for a node).
package token
