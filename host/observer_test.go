package host_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/host"
	"github.com/wasmactor/wasmactor/token"
)

// observerCluster is three nodes over the in-memory network, each with an
// HTTP listener, and an Echo actor on n2 registered as "echo".
func observerCluster(t *testing.T) (*testCluster, host.PID) {
	t.Helper()
	c := newCluster(t, 3, host.Config{HTTPListen: "127.0.0.1:0"})
	deploy(t, c.nodes[0], fixture(t, "minimal_actor.wasm"))
	pid, err := c.nodes[0].Spawn(ctxT(t), "Echo", host.SpawnOptions{Node: "n2", Name: "echo"})
	require.NoError(t, err)
	return c, pid
}

func TestObserverAPIShowsEveryNodeAndTheirActors(t *testing.T) {
	c, pid := observerCluster(t)
	base := "http://" + c.nodes[0].HTTPAddr()

	code, body := httpGet(t, base+"/api/cluster")
	require.Equal(t, 200, code, body)
	var view struct {
		Self  string
		Nodes []struct {
			Name        string
			Incarnation string
			Actors      int
		}
		Modules []struct {
			Factories []string
			Holders   []string
			Actors    int
		}
		Peers []struct {
			Peer    string
			Up      bool
			MsgsOut uint64 `json:"msgs_out"`
		}
	}
	require.NoError(t, json.Unmarshal([]byte(body), &view))
	require.Equal(t, "n1", view.Self)
	require.Len(t, view.Nodes, 3)
	require.Equal(t, "n2", view.Nodes[1].Name)
	require.Equal(t, 1, view.Nodes[1].Actors)
	require.Equal(t, fmt.Sprintf("%016x", c.nodes[1].Incarnation()), view.Nodes[1].Incarnation)
	require.Len(t, view.Modules, 1)
	require.Equal(t, []string{"Echo"}, view.Modules[0].Factories)
	require.Equal(t, 1, view.Modules[0].Actors)
	require.Contains(t, view.Modules[0].Holders, "n1")
	require.Len(t, view.Peers, 2)
	require.Equal(t, "n2", view.Peers[0].Peer)
	require.True(t, view.Peers[0].Up)
	require.NotZero(t, view.Peers[0].MsgsOut, "n1 spawned on n2")

	code, body = httpGet(t, base+"/api/actors?node=n2")
	require.Equal(t, 200, code, body)
	var actors []struct {
		PID     string
		Factory string
		Names   []string
	}
	require.NoError(t, json.Unmarshal([]byte(body), &actors))
	require.Len(t, actors, 1)
	require.Equal(t, pid.String(), actors[0].PID)
	require.Equal(t, []string{"echo"}, actors[0].Names)

	code, body = httpGet(t, base+"/")
	require.Equal(t, 200, code)
	require.Contains(t, body, "wasmactor observer")
}

// chromiumPath finds a headless-capable Chromium. CI (CI=true) installs one
// (scripts/install-test-deps.sh) and fails without it; a developer machine
// without one skips this test with the command that installs it.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no chromium on PATH: .ci/run installs it with scripts/install-test-deps.sh")
	}
	t.Skip("no chromium on PATH; run scripts/install-test-deps.sh to run the browser test")
	return ""
}

func TestObserverInHeadlessChromium(t *testing.T) {
	exe := chromiumPath(t)
	c, pid := observerCluster(t)
	url := "http://" + c.nodes[0].HTTPAddr() + "/"

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1280, 1100))
	actx, cancelAlloc := chromedp.NewExecAllocator(ctxT(t), opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()

	// A sender on n1, the node serving the page, keeps the message rate
	// and n1's traffic to n2 above zero while the page watches.
	sendCtx, stopSending := context.WithCancel(ctxT(t))
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-sendCtx.Done():
				return
			case <-tick.C:
				_ = c.nodes[0].Send(sendCtx, pid, "tick")
			}
		}
	}()
	defer func() { stopSending(); <-sent }()

	require.NoError(t, chromedp.Do(bctx,
		chromedp.Navigate(url),
		// Every node shows up, and up.
		chromedp.WaitVisible(chromedp.CSS(`#nodes tr[data-node="n3"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#nodes tr[data-node="n2"] td.up`)),
		// Pick n2 and wait for its actor.
		chromedp.SetValue(chromedp.CSS(`#node-pick`), "n2"),
		discard(chromedp.Evaluate[bool](`document.getElementById("node-pick").dispatchEvent(new Event("change"))`)),
		discard(chromedp.Poll[bool](fmt.Sprintf(`document.querySelector("#actors tbody").textContent.includes(%q)`, pid.String()),
			chromedp.WithPollingTimeout(30*time.Second))),
		// The message rate moves.
		discard(chromedp.Poll[bool](`Number(document.getElementById("rate-now").textContent) > 0`,
			chromedp.WithPollingTimeout(30*time.Second))),
		// n1's peers are listed, up, and its messages to n2 move.
		chromedp.WaitVisible(chromedp.CSS(`#peers tr[data-peer="n2"] td.up`)),
		chromedp.WaitVisible(chromedp.CSS(`#peers tr[data-peer="n3"] td.up`)),
		discard(chromedp.Poll[bool](`Number(document.querySelector('#peers tr[data-peer="n2"] td.msgs-out').textContent) > 0`,
			chromedp.WithPollingTimeout(30*time.Second))),
	))
	actorsText, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(`#actors tbody`)))
	require.NoError(t, err)
	require.Contains(t, actorsText, "Echo")
	require.Contains(t, actorsText, "echo")
	rate, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(`#rate-now`)))
	require.NoError(t, err)
	require.NotEqual(t, "0", strings.TrimSpace(rate))

	png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100)) // quality 100 is PNG
	require.NoError(t, err)
	dir := os.Getenv("WASMACTOR_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	shot := filepath.Join(dir, "observer.png")
	require.NoError(t, os.WriteFile(shot, png, 0o644))
	t.Logf("screenshot: %s", shot)
}

// discard turns an action with a value into a step.
func discard[T any](a chromedp.Action[T]) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := a(ctx, t)
		return chromedp.Void{}, err
	}
}

// TestObserverAPIRequiresAViewerTokenWhenAsked: with HTTPRequireToken the
// API answers only a valid token of the cluster; metrics, probes and the
// static page stay open.
func TestObserverAPIRequiresAViewerTokenWhenAsked(t *testing.T) {
	cookie := []byte("the cluster's cookie, 32 bytes..")
	n := newNode(t, host.Config{Name: "n1", Listen: "127.0.0.1:0", Cookie: cookie, HTTPListen: "127.0.0.1:0", HTTPRequireToken: true})
	base := "http://" + n.HTTPAddr()
	auth, err := token.NewAuthority(cookie)
	require.NoError(t, err)
	viewer, err := auth.Mint(token.Caveat{Role: token.Viewer}, token.Caveat{Expires: time.Now().Add(time.Hour)})
	require.NoError(t, err)
	other, err := token.NewAuthority([]byte("another cluster's cookie, 32 b.."))
	require.NoError(t, err)
	foreign, err := other.Mint(token.Caveat{Role: token.Admin})
	require.NoError(t, err)
	narrowed, err := viewer.Narrow(token.Caveat{Expires: time.Now().Add(-time.Minute)})
	require.NoError(t, err)

	scheme := "Bearer"
	get := func(path, bearer string) (int, http.Header, string) {
		req, err := http.NewRequestWithContext(ctxT(t), http.MethodGet, base+path, nil)
		require.NoError(t, err)
		if bearer != "" {
			req.Header.Set("Authorization", scheme+" "+bearer)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, resp.Header, string(b)
	}
	for _, path := range []string{"/api/cluster", "/api/actors"} {
		code, h, body := get(path, "")
		require.Equal(t, http.StatusUnauthorized, code, body)
		require.Contains(t, h.Get("WWW-Authenticate"), "Bearer")
		for _, bad := range []string{"not a token", foreign.String(), narrowed.String()} {
			code, _, body = get(path, bad)
			require.Equal(t, http.StatusUnauthorized, code, "%s: %s", bad, body)
		}
		code, _, body = get(path, viewer.String())
		require.Equal(t, http.StatusOK, code, body)
		// The scheme in any case (RFC 7235); another scheme is refused.
		for _, scheme = range []string{"bearer", "BEARER"} {
			code, _, body = get(path, viewer.String())
			require.Equal(t, http.StatusOK, code, "%s: %s", scheme, body)
		}
		scheme = "Basic"
		code, _, _ = get(path, viewer.String())
		require.Equal(t, http.StatusUnauthorized, code)
		scheme = "Bearer"
	}
	for _, path := range []string{"/metrics", "/healthz", "/readyz", "/"} {
		code, _, body := get(path, "")
		require.Equal(t, http.StatusOK, code, "%s: %s", path, body)
	}

	// Without a cookie there is nothing to verify a token with.
	_, err = host.Start(ctxT(t), host.Config{Name: "alone", HTTPListen: "127.0.0.1:0", HTTPRequireToken: true, Logger: quietLogger()})
	require.ErrorIs(t, err, wasmactor.ErrBadArgument)
}

// TestObserverPageSendsItsToken: the page opened as /#token=... sends the
// token with every API request, and drops it from the address bar.
func TestObserverPageSendsItsToken(t *testing.T) {
	exe := chromiumPath(t)
	cookie := []byte("the cluster's cookie, 32 bytes..")
	c := newCluster(t, 2, host.Config{HTTPListen: "127.0.0.1:0", HTTPRequireToken: true, Cookie: cookie})
	auth, err := token.NewAuthority(cookie)
	require.NoError(t, err)
	viewer, err := auth.Mint(token.Caveat{Role: token.Viewer})
	require.NoError(t, err)

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox,
		chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(ctxT(t), opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	require.NoError(t, chromedp.Do(bctx,
		chromedp.Navigate("http://"+c.nodes[0].HTTPAddr()+"/#token="+viewer.String()),
		chromedp.WaitVisible(chromedp.CSS(`#nodes tr[data-node="n2"] td.up`)),
		chromedp.WaitVisible(chromedp.CSS(`#peers tr[data-peer="n2"]`)),
	))
	hash, err := chromedp.Run(bctx, chromedp.Evaluate[string](`location.hash`))
	require.NoError(t, err)
	require.Empty(t, hash, "the token left the address bar")
}
