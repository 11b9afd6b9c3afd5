package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/wasmactor/wasmactor/client"
	"github.com/wasmactor/wasmactor/token"
	"github.com/wasmactor/wasmactor/transport"
)

// Defaults of the common flags.
const (
	defaultNode        = "127.0.0.1:7946"
	defaultDialTimeout = 5 * time.Second
	envNode            = "WASMACTOR_NODE"
	envCookieFile      = "WASMACTOR_COOKIE_FILE"
	envToken           = client.EnvToken
	envTLSCert         = "WASMACTOR_TLS_CERT"
	envTLSKey          = "WASMACTOR_TLS_KEY"
	envTLSCA           = "WASMACTOR_TLS_CA"
)

// dialFunc connects a client to the node at addr, proving the cookie or a
// token.
type dialFunc func(ctx context.Context, addr string, cred credentials) (transport.Client, error)

// deps is what the CLI takes from its environment. main passes the real
// ones; tests pass fakes and run everything in-process.
type deps struct {
	getenv func(string) string
	home   func() (string, error)
	dial   dialFunc
	// readCookie reads an existing cookie file; the client never creates one.
	readCookie func(path string) ([]byte, error)
}

func osDeps() deps {
	return deps{getenv: os.Getenv, home: os.UserHomeDir, dial: dialQUIC, readCookie: readCookieFile}
}

// app holds one invocation's state: where it prints, its resolved common
// flags, and the node connection once opened.
type app struct {
	deps
	stdout, stderr io.Writer

	nodeAddr    string
	cookieFile  string
	dialTimeout time.Duration
	// token, if set, is proved instead of the cookie (parsed: tok).
	token string
	tok   *token.Token
	// Certificate files of a cluster with mutual TLS (nodes and clients).
	tlsCert, tlsKey, tlsCA string

	// started is set once flags and arguments parsed; an error before that
	// is a usage error from cobra.
	started bool
	client  *client.Client
}

// run is the whole CLI: it parses args, runs one command and returns the
// exit code. Every failure prints exactly one line on stderr, except a
// listing that lacks some nodes' part: one line per such node.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runWith(ctx, args, stdout, stderr, osDeps())
}

func runWith(ctx context.Context, args []string, stdout, stderr io.Writer, d deps) int {
	a := &app{deps: d, stdout: stdout, stderr: stderr}
	root := a.rootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if a.client != nil {
		_ = a.client.Close()
	}
	if err == nil {
		return exitOK
	}
	var pe *partialError
	if errors.As(err, &pe) {
		for _, l := range pe.lines {
			fmt.Fprintln(stderr, l)
		}
		return exitUnreachable
	}
	code, line := classify(err)
	var ee *exitError
	if !a.started && !errors.As(err, &ee) {
		// cobra's own parse errors: unknown command or flag, wrong arg count.
		code = exitUsage
		line = oneLine(err.Error()) + " (see 'wasmactor --help')"
	}
	fmt.Fprintln(stderr, line)
	return code
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "wasmactor",
		Short: "Run and talk to a cluster of WebAssembly actors",
		Long: `wasmactor runs WebAssembly actors on a cluster of nodes and talks to them.

Start nodes with 'wasmactor node', compile an actor package with
'wasmactor build', upload it once with 'wasmactor deploy', then spawn actors on
any node by factory name and send or call them with JSON messages (converted
to CBOR for the guest; CBOR replies print as JSON).

Finding the node: every command that talks to a cluster connects to one node,
given by --node, else $` + envNode + `, else ` + defaultNode + `.

Finding the cookie: nodes and clients prove they share a secret cookie. Its
file is --cookie-file, else $` + envCookieFile + `, else the per-user default
$XDG_DATA_HOME/wasmactor/cookie (~/.local/share/wasmactor/cookie when
XDG_DATA_HOME is unset). The first node started with that default creates it
(256 random bits as hex, mode 0600), so every node and client of one user on
one machine agree without configuration. Across machines, copy the file. The
client only reads the file, never creates it.

Tokens: the cookie lets a client do anything. A token, minted from the
cookie with 'wasmactor token create', lets it do what its role allows
(viewer: ps, nodes, modules; operator: also spawn, send, call, kill; admin:
also deploy and join), within its factories, names and expiry. Give it with
--token or $` + envToken + ` (the environment keeps it out of the process
list); the cookie file is then not read. An explicit --cookie-file wins over
$` + envToken + `.

Mutual TLS: nodes and clients of a cluster started with --tls-cert,
--tls-key and --tls-ca (or $` + envTLSCert + `, $` + envTLSKey + `,
$` + envTLSCA + `) present certificates signed by that CA, on top of the
cookie or token proof.

` + exitCodesHelp,
		Example: `  wasmactor demo                                  # a local 3-node cluster in one process
  wasmactor node --name n1 --listen 127.0.0.1:7946
  wasmactor --node 127.0.0.1:7946 ps -o json`,
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			a.started = true
			return a.resolveCommon(cmd.Flags())
		},
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageErrorf("%v (see 'wasmactor %s --help')", err, c.Name())
	})
	pf := root.PersistentFlags()
	pf.StringVar(&a.nodeAddr, "node", defaultNode, "node to connect to, HOST:PORT (env "+envNode+")")
	pf.StringVar(&a.cookieFile, "cookie-file", "", "cookie file (env "+envCookieFile+"; default $XDG_DATA_HOME/wasmactor/cookie)")
	pf.DurationVar(&a.dialTimeout, "dial-timeout", defaultDialTimeout, "how long to wait for the node to answer the handshake")
	pf.StringVar(&a.token, "token", "", "token to prove instead of the cookie (env "+envToken+", which keeps it out of the process list)")
	pf.StringVar(&a.tlsCert, "tls-cert", "", "mutual TLS: this process's certificate, PEM (env "+envTLSCert+")")
	pf.StringVar(&a.tlsKey, "tls-key", "", "mutual TLS: the certificate's key, PEM (env "+envTLSKey+")")
	pf.StringVar(&a.tlsCA, "tls-ca", "", "mutual TLS: the cluster's CA, PEM (env "+envTLSCA+")")

	root.AddCommand(
		a.buildCmd(),
		a.genCmd(),
		a.deployCmd(),
		a.spawnCmd(),
		a.sendCmd(),
		a.callCmd(),
		a.psCmd(),
		a.nodesCmd(),
		a.modulesCmd(),
		a.groupsCmd(),
		a.killCmd(),
		a.upgradeCmd(),
		a.undeployCmd(),
		a.migrateCmd(),
		a.drainCmd(),
		a.undrainCmd(),
		a.tokenCmd(),
	)
	root.AddCommand(a.hostCmds()...)
	return root
}

// resolveCommon applies the precedence flag > environment > default to the
// common flags.
func (a *app) resolveCommon(fs *pflag.FlagSet) error {
	if !fs.Changed("node") {
		if v := a.getenv(envNode); v != "" {
			a.nodeAddr = v
		}
	}
	if !fs.Changed("cookie-file") {
		a.cookieFile = a.getenv(envCookieFile)
	}
	if a.cookieFile == "" {
		root, err := a.dataRoot()
		if err != nil {
			return err
		}
		a.cookieFile = filepath.Join(root, "cookie")
	}
	if a.dialTimeout <= 0 {
		return usageErrorf("--dial-timeout must be positive, not %s", a.dialTimeout)
	}
	for _, f := range []struct {
		v    *string
		flag string
		env  string
	}{{&a.tlsCert, "tls-cert", envTLSCert}, {&a.tlsKey, "tls-key", envTLSKey}, {&a.tlsCA, "tls-ca", envTLSCA}} {
		if !fs.Changed(f.flag) {
			*f.v = a.getenv(f.env)
		}
	}
	// Credentials: --token, else --cookie-file, else $WASMACTOR_TOKEN,
	// else the cookie file of the environment or the default.
	switch {
	case fs.Changed("token") && fs.Changed("cookie-file"):
		return usageErrorf("give --token or --cookie-file, not both")
	case !fs.Changed("token") && !fs.Changed("cookie-file"):
		a.token = a.getenv(envToken)
	}
	if (a.tlsCert != "" || a.tlsKey != "" || a.tlsCA != "") && (a.tlsCert == "" || a.tlsKey == "" || a.tlsCA == "") {
		return usageErrorf("--tls-cert, --tls-key and --tls-ca go together")
	}
	return nil
}

// loadToken parses --token (or $WASMACTOR_TOKEN) if one is given; commands
// that use no token never fail on a bad one.
func (a *app) loadToken() error {
	if a.token == "" || a.tok != nil {
		return nil
	}
	tok, err := token.Parse(a.token)
	if err != nil {
		// Never echo the token: it is a secret.
		return fail(exitUsage, err, "--token (or $%s) is not a token: %v", envToken, oneLineBare(err))
	}
	a.tok = tok
	return nil
}

// dataRoot is the per-user directory holding the default cookie and the
// default data dir of every node: $XDG_DATA_HOME/wasmactor, else
// ~/.local/share/wasmactor (the XDG base directory default).
func (a *app) dataRoot() (string, error) {
	if x := a.getenv("XDG_DATA_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "wasmactor"), nil
	}
	home, err := a.home()
	if err != nil || home == "" {
		return "", fail(exitUsage, err, "cannot find a home directory for the default data dir; set XDG_DATA_HOME or pass --cookie-file (and --data for nodes)")
	}
	return filepath.Join(home, ".local", "share", "wasmactor"), nil
}

// connect opens the connection to the node, once per invocation.
func (a *app) connect(ctx context.Context) (*client.Client, error) {
	if a.client != nil {
		return a.client, nil
	}
	if err := a.loadToken(); err != nil {
		return nil, err
	}
	cred := credentials{token: a.token, certFile: a.tlsCert, keyFile: a.tlsKey, caFile: a.tlsCA}
	if a.tok != nil {
		if g := a.tok.Claims(); g.Expired(time.Now()) {
			return nil, failWhole(exitPermission, token.ErrExpired, "token %s expired at %s", g.ID, g.Expires.UTC().Format(time.RFC3339))
		}
	} else {
		cookie, err := a.readCookie(a.cookieFile)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, failWhole(exitUnreachable, err, "no cookie file at %s: start a node first, or pass --cookie-file or set %s", a.cookieFile, envCookieFile)
			}
			return nil, failWhole(exitUnreachable, err, "cookie file %s: %v", a.cookieFile, err)
		}
		cred.cookie = cookie
	}
	dctx, cancel := context.WithTimeout(ctx, a.dialTimeout)
	defer cancel()
	c, err := a.dial(dctx, a.nodeAddr, cred)
	if err != nil {
		if errors.Is(err, transport.ErrHandshake) && a.tok != nil {
			return nil, failWhole(exitUnreachable, err, "node at %s refused token %s (minted from another cluster's cookie?): %v", a.nodeAddr, a.tok.ID(), oneLineBare(err))
		}
		if errors.Is(err, transport.ErrHandshake) {
			return nil, failWhole(exitUnreachable, err, "node at %s refused the handshake (wrong cookie? using %s): %v", a.nodeAddr, a.cookieFile, oneLineBare(err))
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, failWhole(exitUnreachable, err, "cannot reach node at %s: %v", a.nodeAddr, oneLineBare(err))
	}
	a.client = client.New(c)
	return a.client, nil
}

// request connects to the node and runs one request of the client package
// on it. Remote errors pass through (classify maps their ABI codes); the
// rest is said in terms of the node's address.
func (a *app) request(ctx context.Context, req func(*client.Client) error) error {
	c, err := a.connect(ctx)
	if err != nil {
		return err
	}
	err = req(c)
	if err == nil {
		return nil
	}
	var re *transport.RemoteError
	switch {
	case errors.As(err, &re):
		return err
	case errors.Is(err, client.ErrMalformedReply):
		return failWhole(exitFailure, err, "node at %s sent a malformed reply: %v", a.nodeAddr, oneLineBare(err))
	case errors.Is(err, context.DeadlineExceeded):
		return fail(exitTimeout, err, "no answer from node at %s in time", a.nodeAddr)
	case errors.Is(err, transport.ErrFrameTooLarge):
		return fail(exitRejected, err, "request too large for the connection to %s: %v", a.nodeAddr, oneLineBare(err))
	case ctx.Err() != nil:
		return ctx.Err()
	}
	return fail(exitUnreachable, err, "node at %s: %v", a.nodeAddr, oneLineBare(err))
}

// oneLineBare is an error's text as one line without our prefix, for
// embedding in a longer message.
func oneLineBare(err error) string {
	s := oneLine(err.Error())
	return s[len("wasmactor: "):]
}

// exactArgs is cobra.ExactArgs with a message that names the arguments.
func exactArgs(n int, names string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageErrorf("%s takes %s, got %d argument(s) (see 'wasmactor %s --help')", cmd.Name(), names, len(args), cmd.Name())
		}
		return nil
	}
}
