package host_test

import (
	"bufio"
	"crypto/rand"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/host"
)

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctxT(t), http.MethodGet, url, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// metricValue returns the sample line of the series named by prefix (name
// and labels as exposed), without its value, or fails.
func metricLine(t *testing.T, body, series string) string {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), series+" ") {
			return strings.TrimPrefix(sc.Text(), series+" ")
		}
	}
	t.Fatalf("no series %s in:\n%s", series, body)
	return ""
}

func TestMetricsHealthAndReadiness(t *testing.T) {
	n := newNode(t, host.Config{HTTPListen: "127.0.0.1:0"})
	require.NotEmpty(t, n.HTTPAddr())
	base := "http://" + n.HTTPAddr()
	ctx := ctxT(t)
	deploy(t, n, fixture(t, "minimal_actor.wasm"))
	trapHash := deploy(t, n, fixture(t, "trap.wasm"))
	pid, err := n.Spawn(ctx, "Echo", host.SpawnOptions{})
	require.NoError(t, err)
	_, err = n.Call(ctx, pid, "hi")
	require.NoError(t, err)
	bad, err := n.Spawn(ctx, "Bad", host.SpawnOptions{})
	require.NoError(t, err)
	mon, err := n.Monitor(ctx, bad)
	require.NoError(t, err)
	select { // its START traps, discarding the instance
	case <-mon.C:
	case <-ctx.Done():
		t.Fatal("the trapping actor never died")
	}

	code, body := httpGet(t, base+"/metrics")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "1", metricLine(t, body, `wasmactor_actors{factory="Echo"}`))
	require.Equal(t, "1", metricLine(t, body, `wasmactor_instance_crashes_total{reason="trap"}`))
	require.Equal(t, "1", metricLine(t, body, `wasmactor_call_duration_seconds_count`))
	require.Equal(t, "2", metricLine(t, body, `wasmactor_deploys_total`))
	require.Equal(t, "1", metricLine(t, body, `wasmactor_module_info{factories="Bad",module="`+trapHash[:12]+`"}`))
	require.NotEqual(t, "0", metricLine(t, body, `wasmactor_turn_duration_seconds_count`))
	// Every wasmactor series is documented.
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, "# TYPE wasmactor_") {
			name := strings.Fields(line)[2]
			require.Contains(t, body, "# HELP "+name+" ", "metric %s has no HELP", name)
		}
	}

	code, body = httpGet(t, base+"/healthz")
	require.Equal(t, http.StatusOK, code, body)
	code, body = httpGet(t, base+"/readyz")
	require.Equal(t, http.StatusOK, code, body)
	require.NoError(t, n.Ready())

	require.NoError(t, n.Close())
	require.ErrorIs(t, n.Ready(), wasmactor.ErrClosed)
	_, err = http.DefaultClient.Get(base + "/healthz")
	require.Error(t, err, "the listener closes with the node")
}

// TestMetricsShowPeerTraffic: two nodes over QUIC talk, and a third with
// another cookie fails to join; n1's /metrics has a series per peer, with
// a bounded label for the peer that never proved its name.
func TestMetricsShowPeerTraffic(t *testing.T) {
	cookie := make([]byte, 32)
	_, _ = rand.Read(cookie)
	cfg := func(name string, join ...string) host.Config {
		return host.Config{Name: name, Listen: "127.0.0.1:0", Cookie: cookie, Join: join}
	}
	c1 := cfg("n1")
	c1.HTTPListen = "127.0.0.1:0"
	n1 := newNode(t, c1)
	n2 := newNode(t, cfg("n2", n1.Addr()))
	require.Eventually(t, func() bool { return len(n1.Members()) == 1 && len(n2.Members()) == 1 }, 10*time.Second, 10*time.Millisecond)
	ctx := ctxT(t)
	deploy(t, n1, fixture(t, "minimal_actor.wasm"))
	pid, err := n1.Spawn(ctx, "Echo", host.SpawnOptions{Node: "n2"})
	require.NoError(t, err)
	for range 20 {
		require.NoError(t, n1.Send(ctx, pid, "hi"))
	}
	_, err = n1.Call(ctx, pid, "hi") // after the sends, in order
	require.NoError(t, err)

	stranger := cfg("n3", n1.Addr())
	stranger.Cookie = []byte("another cookie, also 16+ bytes long")
	n3 := newNode(t, stranger) // starts alone and keeps retrying
	require.NoError(t, n3.Close())

	code, body := httpGet(t, "http://"+n1.HTTPAddr()+"/metrics")
	require.Equal(t, http.StatusOK, code)
	value := func(series string) float64 {
		v, err := strconv.ParseFloat(metricLine(t, body, series), 64)
		require.NoError(t, err)
		return v
	}
	require.Equal(t, 1.0, value(`wasmactor_peer_up{peer="n2"}`))
	require.GreaterOrEqual(t, value(`wasmactor_peer_messages_total{direction="out",peer="n2"}`), 21.0)
	require.Positive(t, value(`wasmactor_peer_messages_total{direction="in",peer="n2"}`))
	require.Positive(t, value(`wasmactor_peer_bytes_total{direction="out",peer="n2"}`))
	require.Positive(t, value(`wasmactor_peer_bytes_total{direction="in",peer="n2"}`))
	require.Positive(t, value(`wasmactor_peer_rtt_seconds{peer="n2"}`))
	// Reported; not asserted zero: a keep-alive missed on a loaded machine
	// may make a reconnect, which is no fault of the metrics.
	require.GreaterOrEqual(t, value(`wasmactor_peer_reconnects_total{peer="n2"}`), 0.0)
	require.Equal(t, 0.0, value(`wasmactor_peer_handshake_failures_total{peer="n2"}`))
	require.GreaterOrEqual(t, value(`wasmactor_peer_handshake_failures_total{peer="(unknown)"}`), 1.0)
	require.NotContains(t, body, `peer="n3"`, "an unverified name is no label")
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, "# TYPE wasmactor_peer") {
			name := strings.Fields(line)[2]
			require.Contains(t, body, "# HELP "+name+" ", "metric %s has no HELP", name)
		}
	}
}
