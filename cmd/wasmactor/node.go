package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wasmactor/wasmactor/host"
)

// hostCmds are the commands that run nodes in this process.
func (a *app) hostCmds() []*cobra.Command {
	return []*cobra.Command{a.nodeCmd(), a.demoCmd(), a.joinCmd()}
}

// parseLevel reads --log-level.
func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, usageErrorf("--log-level must be debug, info, warn or error, not %q", s)
	}
	return l, nil
}

type readyJSON struct {
	Name        string `json:"name"`
	Addr        string `json:"addr"`
	Incarnation string `json:"incarnation"`
	DataDir     string `json:"data_dir"`
	HTTP        string `json:"http,omitempty"`
}

// closeTimeout bounds a graceful shutdown; past it the process exits anyway
// and peers notice by the idle timeout.
const closeTimeout = 30 * time.Second

func (a *app) nodeCmd() *cobra.Command {
	var (
		out        format
		name       string
		listen     string
		join       []string
		dataDir    string
		logLevel   string
		httpListen string
		httpToken  bool
		interpret  bool
		advertise  string
		limits     []string
		otlp       string
		compileTO  time.Duration
	)
	cmd := &cobra.Command{
		Use:   "node --name N",
		Short: "Run a node in the foreground until SIGINT or SIGTERM",
		Long: `Run a node: it listens on --listen (UDP, QUIC), joins the cluster through the
--join seeds (HOST:PORT, or dns:NAME:PORT for every address of a name), keeps
deployed modules in --data, and logs to stderr. If no seed answers it starts
anyway and keeps retrying in the background (--http's /readyz says so). Once ready
it prints one line on stdout: its name, address and incarnation (with -o json,
one JSON object). On SIGINT or SIGTERM it stops its actors, tells its peers it
is leaving, and exits 0; a second signal exits at once.

--data defaults to $XDG_DATA_HOME/wasmactor/NAME (~/.local/share/wasmactor/NAME).
The cookie file (--cookie-file, $` + envCookieFile + `, default
$XDG_DATA_HOME/wasmactor/cookie) is created with 256 random bits on first start,
mode 0600; a node refuses a cookie file others can read. With --tls-cert,
--tls-key and --tls-ca the node uses mutual TLS: every peer and client must
present a certificate signed by that CA, on top of the cookie or token
proof. With --otlp-endpoint it traces calls, asks, spawns, deploys and module
pulls, and exports the spans by OTLP over HTTP (the standard OTEL_*
environment variables, such as OTEL_EXPORTER_OTLP_HEADERS and
OTEL_TRACES_SAMPLER, apply).`,
		Example: `  wasmactor node --name n1 --listen 127.0.0.1:7946
  wasmactor node --name n2 --listen 127.0.0.1:7947 --join 127.0.0.1:7946
  wasmactor node --name n3 --listen 127.0.0.1:7948 --join 127.0.0.1:7946,127.0.0.1:7947 --data /tmp/n3 --log-level debug
  wasmactor node --name n4 --listen 0.0.0.0:7946 --advertise 10.0.0.4:7946 --join dns:wasmactor-headless:7946 --http 0.0.0.0:9464
  wasmactor node --name n5 --tls-cert n5.pem --tls-key n5-key.pem --tls-ca ca.pem --join 10.0.0.4:7946
  wasmactor node --name n6 --join 127.0.0.1:7946 --otlp-endpoint http://127.0.0.1:4318
  wasmactor node --name n7 --limit guest_memory=4GiB,isolated_instances=32 --limit log_lines_per_second=10`,
		Args: exactArgs(0, "no arguments (the name is --name)"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if name == "" {
				return usageErrorf("node needs --name, unique in its cluster (see 'wasmactor node --help')")
			}
			level, err := parseLevel(logLevel)
			if err != nil {
				return err
			}
			if dataDir == "" {
				root, err := a.dataRoot()
				if err != nil {
					return err
				}
				dataDir = filepath.Join(root, name)
			}
			for _, j := range join {
				if strings.TrimSpace(j) == "" {
					return usageErrorf("--join has an empty address")
				}
			}
			if otlp != "" {
				if otlp, err = otlpURL(otlp); err != nil {
					return err
				}
			}
			var lim host.Limits
			if err := setLimits(&lim, limits); err != nil {
				return err
			}
			logger := slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))
			ctx := cmd.Context()
			cfg := host.Config{
				Limits:           lim,
				Name:             name,
				DataDir:          dataDir,
				Listen:           listen,
				Join:             join,
				CookieFile:       a.cookieFile,
				Logger:           logger,
				HTTPListen:       httpListen,
				HTTPRequireToken: httpToken,
				Advertise:        advertise,
				CertFile:         a.tlsCert,
				KeyFile:          a.tlsKey,
				CAFile:           a.tlsCA,
			}
			cfg.CompileTimeout = compileTO
			cfg.InterpretPulledModules = interpret
			if otlp != "" {
				tp, err := newTracerProvider(ctx, otlp, name, logger)
				if err != nil {
					return fmt.Errorf("node %s: tracing: %w", name, err)
				}
				cfg.TracerProvider = tp
				defer func() {
					// After the node: its last spans go out too.
					fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flushTimeout)
					defer cancel()
					if err := tp.Shutdown(fctx); err != nil {
						logger.Warn("tracing: last export failed", "endpoint", otlp, "err", err)
					}
				}()
			}
			n, err := host.Start(ctx, cfg)
			if err != nil {
				return fmt.Errorf("node %s: %w", name, err)
			}
			addr := n.Addr()
			if addr == "" {
				// Never claim to serve an address nobody can reach.
				_ = n.Close()
				return fail(exitFailure, nil, "node %s started without a network: host.Start did not listen on %s", name, listen)
			}
			ready := readyJSON{Name: n.Name(), Addr: addr, Incarnation: incarnation(n.Incarnation()), DataDir: dataDir, HTTP: n.HTTPAddr()}
			if out == formatJSON {
				b, _ := json.Marshal(ready)
				fmt.Fprintf(a.stdout, "%s\n", b)
			} else {
				fmt.Fprintf(a.stdout, "node %s ready on %s (incarnation %s, data %s)\n", ready.Name, ready.Addr, ready.Incarnation, ready.DataDir)
			}
			logger.Info("node ready", "name", ready.Name, "addr", ready.Addr, "incarnation", ready.Incarnation,
				"data", dataDir, "join", join)
			if otlp != "" {
				logger.Info("tracing: exporting spans by OTLP/HTTP", "endpoint", otlp)
			}

			<-ctx.Done()
			logger.Info("shutting down", "signal", context.Cause(ctx))
			done := make(chan error, 1)
			go func() { done <- n.Close() }()
			select {
			case err := <-done:
				if err != nil {
					return fmt.Errorf("node %s: shutdown: %w", name, err)
				}
			case <-time.After(closeTimeout):
				return fail(exitFailure, nil, "node %s: shutdown did not finish in %s", name, closeTimeout)
			}
			logger.Info("node stopped")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "node name, unique in the cluster (letters, digits, - and _)")
	f.StringVar(&listen, "listen", defaultNode, "UDP address to listen on, HOST:PORT (port 0 picks a free one)")
	f.StringSliceVar(&join, "join", nil, "seed nodes to join, HOST:PORT,...")
	f.StringVar(&dataDir, "data", "", "data directory (default $XDG_DATA_HOME/wasmactor/NAME)")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	f.DurationVar(&compileTO, "compile-timeout", 60*time.Second, "deadline of compiling one module (a deploy, or the first spawn after a pull)")
	f.StringVar(&advertise, "advertise", "", "address peers are told to dial, HOST:PORT, when it differs from --listen (0.0.0.0, NAT, a pod IP)")
	f.StringSliceVar(&limits, "limit", nil, limitsHelp())
	f.StringVar(&httpListen, "http", "", "serve Prometheus /metrics, /healthz and /readyz on this TCP address, HOST:PORT (off by default)")
	f.BoolVar(&interpret, "interpret-pulled", false, "run a module pulled from a peer on wazero's interpreter while it compiles: actors that snapshot start at once and move to the compiled code when it is ready (host.Config.InterpretPulledModules)")
	f.BoolVar(&httpToken, "http-require-token", false, "the observer's API (/api/*) answers only with a viewer token of the cluster (Authorization: Bearer; the page takes it as #token=... in its URL)")
	f.StringVar(&otlp, "otlp-endpoint", "", "export OpenTelemetry spans by OTLP/HTTP to this URL, e.g. http://127.0.0.1:4318 (path default "+otlpTracesPath+"; off by default)")
	addFormatFlag(cmd, &out)
	return cmd
}
