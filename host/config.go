package host

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/wasmactor/wasmactor/internal/abi"
	"github.com/wasmactor/wasmactor/scheduler"
	"github.com/wasmactor/wasmactor/transport"
)

// Config configures a Node. The zero value of every field means its default;
// Start validates and copies the Config, never modifying the caller's value.
type Config struct {
	// Name is the node's name, unique in its cluster. Default "node".
	Name string
	// DataDir holds the content-addressed module store and wazero's
	// compilation cache. Empty keeps modules in memory (tests, embedding).
	// It belongs to one node at a time: the node holds it locked (the file
	// DataDir/lock) until Close, and a second node on it fails to start.
	DataDir string
	// MailboxSize bounds the user messages queued for one actor. Default 4096.
	MailboxSize int
	// Workers is the number of scheduler goroutines running guest turns.
	// Default GOMAXPROCS.
	Workers int
	// InstancesPerModule is the size of each module's shared instance pool.
	// Default GOMAXPROCS.
	InstancesPerModule int
	// TurnBatch is the most messages handed to a guest in one call. Default 64.
	TurnBatch int
	// GuestTimeout is the deadline of every call into a guest (one turn, an
	// instance's start); a guest past it is interrupted and its instance
	// discarded. Default 5s. It is not the timeout of Node.Call: see
	// AskTimeout.
	GuestTimeout time.Duration
	// AskTimeout is the default timeout of Call and of guest asks that name
	// none. Default 5s.
	AskTimeout time.Duration
	// MemoryLimitPages caps each instance's linear memory in 64 KiB pages.
	// Default 1024 (64 MiB).
	MemoryLimitPages uint32
	// MaxModuleSize caps a deployed module. Default 64 MiB.
	MaxModuleSize int
	// MaxMessageSize caps one message payload. Default 1 MiB.
	MaxMessageSize int
	// CompileTimeout bounds compiling one module. Default 60s.
	CompileTimeout time.Duration
	// InterpretPulledModules runs a module this node pulls from a peer (a
	// cold remote spawn) on wazero's interpreter while the optimizing
	// compiler compiles it: the spawn answers in about a fifth of the
	// time for a 4 MB Go guest. Only factories whose actors snapshot (the
	// SDK's Snapshotter) start on the interpreter; once the module is
	// compiled they move to it with a snapshot, as in a hot upgrade, and
	// the interpreted instances close. Spawns of other factories wait for
	// the compiler, as without this option. The costs: a second wazero
	// runtime, messages about ten times slower until the move, and the
	// interpreter's build competing with the compiler for the CPU.
	// Default off.
	InterpretPulledModules bool
	// Listen is the UDP address (host:port) other nodes and the CLI reach this
	// node on. Empty runs the node alone, with no network at all; use
	// "127.0.0.1:0" for a free loopback port.
	Listen string
	// Advertise is the address peers are told to dial, when it differs from
	// Listen (NAT, a proxy). Default: the bound address.
	Advertise string
	// Join lists seed addresses of an existing cluster: "HOST:PORT", or
	// "dns:NAME:PORT" for every A/AAAA record of NAME (looked up again every
	// 30s). Start tries them once; if none answers the node still starts and
	// keeps retrying in the background with backoff, and Ready reports it
	// not ready until it has joined.
	Join []string
	// Cookie is the cluster's shared secret (at least 16 bytes). When empty
	// and Listen is set, it is read from CookieFile.
	Cookie []byte
	// CookieFile holds the cookie; created with 256 random bits (hex) and mode 0600
	// on first start. Default DataDir/cookie.
	CookieFile string
	// CertFile and KeyFile (PEM) are this node's TLS certificate and key,
	// and CAFile (PEM) the CA that the certificates of peers and clients
	// must chain to: mutual TLS, on top of the cookie or token proof (see
	// docs/protocol.md, "TLS"). Set all three or none. Without them each
	// node uses an ephemeral self-signed certificate and the proofs alone
	// authenticate. Ignored with Transport.
	CertFile, KeyFile, CAFile string
	// IdleTimeout is how long a silent peer is kept before it is reported
	// down (its actors' monitors get "noconnection"). Default 5s.
	IdleTimeout time.Duration
	// HTTPListen is the TCP address (host:port) of an optional HTTP listener
	// serving Prometheus /metrics, /healthz and /readyz. Empty (the
	// default) serves nothing. Use a loopback address unless the network
	// in front of it is trusted: what it serves is read-only but reveals the
	// node's actors and modules.
	HTTPListen string
	// HTTPRequireToken makes the observer's API (/api/cluster,
	// /api/actors) answer only requests that carry a token of this
	// cluster (package token) with at least the viewer role, as
	// "Authorization: Bearer wat1...": the actors, names and crash reasons
	// it lists are what `wasmactor ps` shows a viewer. /metrics, /healthz,
	// /readyz and the page's static files stay open (scrapers and probes;
	// they name no actor). The listener is plain HTTP, so the token
	// crosses it in the clear: give the page a viewer token with an expiry.
	// Needs the cluster's cookie (Listen, or Cookie with Transport).
	// docs/RATIONALE.md, "The HTTP listener and tokens".
	HTTPRequireToken bool
	// TracerProvider turns on OpenTelemetry tracing (README, "Tracing"):
	// spans for Call, for guest asks made while handling a traced message,
	// for spawns, deploys and module pulls, and W3C trace context in the
	// messages and spawn requests that carry them. Nil (the default) makes
	// no span and reads no trace context from a ctx; the message path then
	// costs a nil check. Trace contexts that arrive from peers are passed
	// on either way. `wasmactor node --otlp-endpoint` gives a provider that
	// exports by OTLP over HTTP.
	TracerProvider trace.TracerProvider
	// MaxNodeMonitors bounds the node monitors (monitor_node) one actor
	// holds at once. Default 256.
	MaxNodeMonitors int
	// MaxGroupMonitors bounds the group monitors (monitor_group) one actor
	// holds at once. Default 256.
	MaxGroupMonitors int
	// MaxGroupsPerActor bounds the groups one actor is in. Default 256.
	MaxGroupsPerActor int
	// MaxPendingSpawns bounds the spawn requests (spawn_request) one actor
	// has in flight. Default 64.
	MaxPendingSpawns int
	// MaxSpawnRequests bounds the spawn requests in flight on the node:
	// its guests' (wherever they spawn) and those it serves for other
	// nodes' guests. Default 4096.
	MaxSpawnRequests int
	// Limits bound what the node's actors can make it hold: actors,
	// instances, guest memory, queued bytes, timers, asks, monitors, links,
	// names and log lines. The zero value of each field means its default
	// (see [Limits]).
	Limits Limits
	// Transport replaces the QUIC transport (in-memory networks in tests).
	// When set, Listen, Cookie, CookieFile and the certificate files are
	// ignored.
	Transport transport.Transport
	// Logger receives the node's log and its guests' output. Default slog.Default().
	Logger *slog.Logger
}

func (c Config) withDefaults() (Config, error) {
	if c.Name == "" {
		c.Name = "node"
	}
	if err := validNodeName(c.Name); err != nil {
		return c, err
	}
	procs := runtime.GOMAXPROCS(0)
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.MailboxSize, 4096)
	def(&c.Workers, procs)
	def(&c.InstancesPerModule, procs)
	def(&c.TurnBatch, 64)
	def(&c.MaxModuleSize, 64<<20)
	def(&c.MaxMessageSize, 1<<20)
	def(&c.MaxNodeMonitors, 256)
	def(&c.MaxGroupMonitors, 256)
	def(&c.MaxGroupsPerActor, 256)
	def(&c.MaxPendingSpawns, 64)
	def(&c.MaxSpawnRequests, 4096)
	if c.GuestTimeout == 0 {
		c.GuestTimeout = 5 * time.Second
	}
	if c.AskTimeout == 0 {
		c.AskTimeout = abi.DefaultAskTimeout
	}
	if c.CompileTimeout == 0 {
		c.CompileTimeout = 60 * time.Second
	}
	if c.MemoryLimitPages == 0 {
		c.MemoryLimitPages = 1024
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	var err error
	if c.Limits, err = c.Limits.withDefaults(c.MemoryLimitPages); err != nil {
		return c, err
	}
	if c.MailboxSize > scheduler.MaxQuotaMessages {
		return c, fmt.Errorf("wasmactor: invalid config: MailboxSize over %d", scheduler.MaxQuotaMessages)
	}
	if c.MailboxSize < 0 || c.Workers < 0 || c.InstancesPerModule < 0 || c.TurnBatch < 0 ||
		c.MaxModuleSize < 0 || c.MaxMessageSize < 0 || c.GuestTimeout < 0 || c.AskTimeout < 0 ||
		c.CompileTimeout < 0 || c.MemoryLimitPages > 65535 || c.MaxNodeMonitors < 0 || c.MaxGroupMonitors < 0 ||
		c.MaxGroupsPerActor < 0 || c.MaxPendingSpawns < 0 || c.MaxSpawnRequests < 0 {
		return c, errors.New("wasmactor: invalid config: negative size or timeout, or more than 65535 memory pages (the engine's cap)")
	}
	return c, nil
}

func validNodeName(name string) error {
	if len(name) > 128 {
		return errors.New("wasmactor: invalid config: node name longer than 128 bytes")
	}
	for _, r := range name {
		ok := r == '-' || r == '_' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
		if !ok {
			return errors.New("wasmactor: invalid config: node name may hold only letters, digits, '-' and '_'")
		}
	}
	return nil
}
