// Command wasmactor runs wasmactor nodes and talks to a running cluster.
//
//	wasmactor node   --name N [--listen HOST:PORT] [--join HOST:PORT,...] [--data DIR]
//	wasmactor build  [PKG_DIR] [-o out.wasm] [-o json] [--out FILE] [--optimize]
//	wasmactor deploy FILE.wasm
//	wasmactor spawn  FACTORY [--on NODE] [--name NAME] [--args JSON] [--isolated] [--restart POLICY]
//	wasmactor send   TARGET JSON | --group GROUP JSON
//	wasmactor call   TARGET JSON [--timeout 5s]
//	wasmactor ps | nodes [--watch] | modules | groups [GROUP]
//	wasmactor kill   TARGET [--reason R]
//	wasmactor token  create --role ROLE [--factory F]... [--name N]... [--ttl D] | narrow ... | inspect
//	wasmactor upgrade TARGET [--to VERSION] | --factory F [--to VERSION] [--parallel N] [--keep-going]
//	wasmactor migrate TARGET --to NODE
//	wasmactor drain  NODE [--keep-isolated] [--cancel]
//	wasmactor undrain NODE
//	wasmactor undeploy HASH|FACTORY@HASH [--force]
//	wasmactor demo [mobility]
//
// Every command prints help with examples (wasmactor CMD --help), and every
// command that prints takes -o text|json (build too: there any other -o
// value names the output file, as in go build; --out always does).
//
// # Reaching a node
//
// Cluster commands connect to one node over QUIC, with the same cookie
// handshake nodes use between themselves, and send it one request of
// package client (the public Go client: the CLI is its first user). The node is --node, else $WASMACTOR_NODE, else
// 127.0.0.1:7946. The cookie file is --cookie-file, else
// $WASMACTOR_COOKIE_FILE, else $XDG_DATA_HOME/wasmactor/cookie
// (~/.local/share/wasmactor/cookie): one file per user that the first node
// creates, so that local nodes and the CLI agree without configuration, as
// Erlang nodes do with ~/.erlang.cookie. A node's data dir defaults to
// $XDG_DATA_HOME/wasmactor/NAME.
//
// # Tokens and mutual TLS
//
// The cookie lets a client do anything. 'wasmactor token create' mints from
// it a token that lets a client do less: a role (viewer lists; operator also
// spawns, sends, calls and kills; admin also deploys and joins), narrowed to
// factories and names and given an expiry. --token, else $WASMACTOR_TOKEN,
// is proved instead of the cookie. --tls-cert, --tls-key and --tls-ca (or
// $WASMACTOR_TLS_CERT, _KEY, _CA) give nodes and clients mutual TLS.
//
// # Messages
//
// JSON typed on the command line becomes CBOR for guests: integers stay
// integers (bignums beyond 64 bits), numbers with a fraction or exponent
// become floats, objects become maps with text keys. CBOR replies print as
// JSON; see [CBORToJSON] for what JSON cannot hold as is.
//
// # Failures
//
// Every failure is one line on stderr, "wasmactor: ...", and an exit code a
// script can branch on: 1 other failure, 2 usage (bad flags, arguments or
// JSON, PID text without its incarnation), 3 node unreachable or handshake
// refused (wrong cookie), or a listing (ps, nodes) that lacks the nodes that
// did not answer (those get one line each, after what the others answered),
// 4 not found (factory, actor, name, node, or a PID of an earlier run of its
// node), 5 timeout, 6 rejected (bad or oversized module or message, name
// taken, mailbox full), 7 permission (the token does not allow the request,
// or has expired), 8 refused (an upgrade, migration, drain or undeploy did
// not happen for an actor or module, which is as it was). Remote errors
// arrive with the
// ABI error codes of docs/abi.md and map onto these.
package main
