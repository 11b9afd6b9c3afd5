package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/wasmactor/wasmactor/client"
)

// otlpReceiver is an OTLP/HTTP trace receiver on loopback: it keeps the
// span names and the service.instance.id of every export it gets.
type otlpReceiver struct {
	*httptest.Server
	mu        sync.Mutex
	paths     []string
	spans     []string
	instances []string
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	r := &otlpReceiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		var msg coltrace.ExportTraceServiceRequest
		if err == nil {
			err = proto.Unmarshal(body, &msg)
		}
		if err != nil || req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/x-protobuf" {
			http.Error(w, "bad export", http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.paths = append(r.paths, req.URL.Path)
		for _, rs := range msg.ResourceSpans {
			for _, kv := range rs.GetResource().GetAttributes() {
				if kv.Key == "service.instance.id" {
					r.instances = append(r.instances, kv.GetValue().GetStringValue())
				}
			}
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					r.spans = append(r.spans, s.Name)
				}
			}
		}
		r.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		b, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
		_, _ = w.Write(b)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *otlpReceiver) got() (paths, spans, instances []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.paths...), append([]string(nil), r.spans...), append([]string(nil), r.instances...)
}

// TestNodeExportsSpansByOTLP runs `wasmactor node --otlp-endpoint` in this
// process against an OTLP/HTTP receiver on loopback: a deploy, a spawn and
// a call from a client become spans the node exports, at the latest when
// it stops.
func TestNodeExportsSpansByOTLP(t *testing.T) {
	recv := newOTLPReceiver(t)
	dir := t.TempDir()
	cookie := filepath.Join(dir, "cookie")
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- runWith(ctx, []string{"node", "--name", "n1", "--listen", "127.0.0.1:0", "--data", filepath.Join(dir, "n1"),
			"--cookie-file", cookie, "--otlp-endpoint", recv.URL}, &stdout, &stderr, osDeps())
	}()
	ready := regexp.MustCompile(`node n1 ready on (\S+) `)
	var addr string
	require.Eventually(t, func() bool {
		if m := ready.FindStringSubmatch(stdout.String()); m != nil {
			addr = m[1]
			return true
		}
		return false
	}, 30*time.Second, 10*time.Millisecond, "stderr: %s", &stderr)

	cctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := client.Dial(cctx, addr, client.Options{CookieFile: cookie})
	require.NoError(t, err)
	defer c.Close()
	wasm, err := os.ReadFile(filepath.Join("..", "..", "testdata", "minimal_actor.wasm"))
	require.NoError(t, err)
	_, err = c.Deploy(cctx, wasm)
	require.NoError(t, err)
	pid, err := c.Spawn(cctx, "Echo", client.SpawnOptions{})
	require.NoError(t, err)
	_, err = c.Call(cctx, pid.String(), "hi")
	require.NoError(t, err)

	stop()
	select {
	case code := <-done:
		require.Zero(t, code, "stderr: %s", &stderr)
	case <-time.After(time.Minute):
		t.Fatal("the node did not stop")
	}
	paths, spans, instances := recv.got()
	require.NotEmpty(t, paths, "no export reached the receiver; stderr: %s", &stderr)
	for _, p := range paths {
		require.Equal(t, otlpTracesPath, p)
	}
	for _, want := range []string{"wasmactor.deploy", "wasmactor.spawn", "wasmactor.call"} {
		require.Contains(t, spans, want)
	}
	require.Contains(t, instances, "n1")
	require.Contains(t, stderr.String(), "tracing: exporting spans by OTLP/HTTP")
	require.NotContains(t, stderr.String(), "export failed")
}

func TestOTLPEndpointFlag(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:4318":              "http://127.0.0.1:4318/v1/traces",
		"http://127.0.0.1:4318/":             "http://127.0.0.1:4318/v1/traces",
		"https://otel.example:443/custom/v1": "https://otel.example:443/custom/v1",
	} {
		got, err := otlpURL(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got)
	}
	for _, bad := range []string{"127.0.0.1:4318", "localhost:4318", "grpc://x:4317", "http://", "::"} {
		f := newFake(t)
		r := f.run(t, "node", "--name", "n1", "--otlp-endpoint", bad)
		require.Equal(t, exitUsage, r.code, bad)
		require.True(t, strings.HasPrefix(r.stderr, "wasmactor: --otlp-endpoint must be an http:// or https:// URL"), r.stderr)
	}
}
