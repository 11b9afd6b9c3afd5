// Package client talks to a wasmactor cluster from a Go program that is not
// a member of it: the same requests the `wasmactor` CLI makes (deploy,
// spawn, send, call, ps, nodes, modules, kill, and the code mobility of
// upgrade, migrate, drain and undeploy), with typed results.
//
// # Quick start
//
//	c, err := client.Dial(ctx, "127.0.0.1:7946", client.Options{CookieFile: "/etc/wasmactor/cookie"})
//	if err != nil { ... }
//	defer c.Close()
//	mod, err := c.Deploy(ctx, wasmBytes)
//	pid, err := c.Spawn(ctx, "Counter", client.SpawnOptions{Node: "n3", Name: "counter"})
//	err = c.Send(ctx, "counter", map[string]any{"op": "inc", "by": 2})
//	reply, err := c.Call(ctx, pid.String(), map[string]any{"op": "get"})
//	var v struct{ Value int }
//	err = reply.Decode(&v)
//
// # Client or node
//
// A client connects to one node over the cluster's QUIC endpoint and proves
// the cookie as nodes do, but it is not a member: it holds no actors, is
// never sent messages, cannot monitor or link, and the cluster does not
// notice it leave. The node it is connected to acts on its behalf, anywhere
// in the cluster: a spawn on another node, a send to a name registered
// elsewhere, a listing of every member. A Go program that must host actors,
// monitor them or receive their messages embeds a node instead
// (package host).
//
// # Tokens
//
// The cookie lets a client do anything. A token (package token, minted with
// `wasmactor token create` by whoever holds the cookie) lets it do what its
// role allows, within its factories, names and expiry: viewers list,
// operators also spawn, send, call and kill, admins also deploy and join.
// Pass it as [Options.Token] or in $WASMACTOR_TOKEN. A request the token
// does not allow fails with an error matching [wasmactor.ErrPermission].
//
// # Targets
//
// Send, Call and Kill name their target as text: a PID as printed
// ([PID.String], as Spawn and Ps return it) or a cluster-wide name. Text
// that starts with "<" must be a well-formed PID.
//
// # Messages
//
// Messages and spawn arguments are Go values encoded as CBOR (deterministic
// encoding; struct fields tagged `cbor:"name"`). A [CBOR] value passes as
// is, and Call returns the reply as [CBOR] for the caller to decode.
//
// Typed messages (//wasmactor:message types with codecs written by
// `wasmactor gen`) go through [Call] and [Send], which encode with the
// generated code and infer the answer's type from the request:
// client.Call(ctx, c, "alice", bankproto.Deposit{Amount: 5}) returns a
// bankproto.Balance.
//
// # Errors
//
// An error the node answered with keeps the node's text and matches
// (errors.Is) the wasmactor sentinel it stands for: [wasmactor.ErrNoProc],
// [wasmactor.ErrNotFound], [wasmactor.ErrUnknownFactory],
// [wasmactor.ErrTimeout], [wasmactor.ErrPermission]... It is also a
// *[transport.RemoteError] (errors.As)
// carrying the code. A connection that failed is the transport's error:
// [transport.ErrHandshake] for a refused cookie, [transport.ErrFrameTooLarge]
// for a request over the node's cap. An answer that does not decode matches
// [ErrMalformedReply].
//
// # Dependencies
//
// The package links QUIC (quic-go, hidden behind transport/quic) but not
// the WebAssembly runtime: a client does not compile or run guests. A test
// keeps it that way.
package client
