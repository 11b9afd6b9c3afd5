package quic

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/transporttest"
	"github.com/wasmactor/wasmactor/transport"
)

// logLines is a slog.Handler that keeps the lines at WARN and above, and
// the incarnations every line names.
type logLines struct {
	mu           sync.Mutex
	warnings     []string
	incarnations []string
}

func (w *logLines) Enabled(context.Context, slog.Level) bool { return true }
func (w *logLines) WithAttrs([]slog.Attr) slog.Handler       { return w }
func (w *logLines) WithGroup(string) slog.Handler            { return w }
func (w *logLines) Handle(_ context.Context, r slog.Record) error {
	line := r.Message
	w.mu.Lock()
	defer w.mu.Unlock()
	r.Attrs(func(a slog.Attr) bool {
		line += " " + a.String()
		if a.Key == "incarnation" {
			w.incarnations = append(w.incarnations, a.Value.String())
		}
		return true
	})
	if r.Level >= slog.LevelWarn {
		w.warnings = append(w.warnings, line)
	}
	return nil
}

func (w *logLines) got() (warnings, incarnations []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.warnings...), append([]string(nil), w.incarnations...)
}

// TestNormalEndsAreNotProtocolErrors: clients that hang up (some with a
// call in flight), peers that leave, and a session superseded after a
// one-way loss end connections under the streams' readers; none of that
// is logged as a warning on either side. Incarnations in the log are
// printed as PIDs print them.
func TestNormalEndsAreNotProtocolErrors(t *testing.T) {
	logs := &logLines{}
	logger := slog.New(logs)
	nw := &suiteNetwork{proxies: map[string]*transporttest.Proxy{}}
	ha := newHandler()
	a := nw.start(t, "a", ha, func(c *Config) { c.Logger = logger })
	ha.setCall(func(context.Context, transport.PeerInfo, transport.Control) ([]byte, error) { return []byte{0xa0}, nil })

	for i := range 40 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, err := Dial(ctx, a.Self().Addr, ClientConfig{Name: "cli", Cookie: testCookie, Logger: logger})
		require.NoError(t, err)
		_, err = c.Call(ctx, transport.Control{})
		require.NoError(t, err)
		if i%2 == 0 {
			go c.Call(ctx, transport.Control{}) //nolint:errcheck // in flight when the client hangs up
		}
		require.NoError(t, c.Close())
		cancel()
	}

	for range 8 {
		hb := newHandler()
		b := nw.start(t, "b", hb, func(c *Config) { c.Logger = logger })
		require.NoError(t, b.Join(joinCtx(t), []string{a.Self().Addr}))
		require.True(t, ha.nextEvent(t, 10*time.Second).up)
		require.NoError(t, b.Close())
		ev := ha.nextEvent(t, 10*time.Second)
		require.False(t, ev.up)
		require.ErrorIs(t, ev.reason, transport.ErrPeerLeft)
	}

	// Superseded: c stops hearing a, times out and reconnects; a's old
	// session ends with CodeSuperseded.
	hc := newHandler()
	c := nw.start(t, "c", hc, func(cfg *Config) { cfg.Logger = logger })
	require.NoError(t, c.Join(joinCtx(t), []string{a.Self().Addr}))
	require.True(t, hc.nextEvent(t, 10*time.Second).up)
	require.True(t, ha.nextEvent(t, 10*time.Second).up)
	nw.LoseOneWay(t, c, a, func() {})
	require.ErrorIs(t, hc.nextEvent(t, 10*time.Second).reason, transport.ErrPeerTimeout)
	ev := ha.nextEvent(t, 10*time.Second)
	require.ErrorIs(t, ev.reason, transport.ErrPeerReconnected)
	require.True(t, ha.nextEvent(t, 10*time.Second).up)
	require.NoError(t, c.Close())
	require.ErrorIs(t, ha.nextEvent(t, 10*time.Second).reason, transport.ErrPeerLeft)

	// Close waits for every goroutine of a, so a reader that lost the race
	// with the events has logged by the time it returns.
	require.NoError(t, a.Close())
	warnings, incs := logs.got()
	require.Empty(t, warnings)
	require.Contains(t, incs, wasmactor.FormatIncarnation(c.Self().Incarnation))
	for _, inc := range incs {
		require.Regexp(t, "^[0-9a-f]{16}$", inc)
	}
}
