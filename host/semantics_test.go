package host_test

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/host"
	"github.com/wasmactor/wasmactor/internal/guestbuild/guestbuildtest"
	"github.com/wasmactor/wasmactor/internal/proto"
	"github.com/wasmactor/wasmactor/transport"
)

// syncCasts waits until every cast from's node sent to n before now has
// been handled: casts are ordered per pair, so a name registered on from
// and seen on n comes after them.
func syncCasts(t *testing.T, from, n *host.Node, pid host.PID, name string) {
	t.Helper()
	ctx := ctxT(t)
	require.NoError(t, from.Register(ctx, name, pid))
	require.Eventually(t, func() bool { _, err := n.Whereis(ctx, name); return err == nil }, 10*time.Second, time.Millisecond)
}

// restartWindow holds a node inside the next restart of a probe: the
// restart instantiates the module again, and the probe's init writes a line
// to stderr while the actor is between its death and its new START. Once
// armed, the node's logger signals in and waits for proceed there.
type restartWindow struct {
	logger  *slog.Logger
	armed   atomic.Bool
	in      chan struct{}
	proceed chan struct{}
}

func newRestartWindow() *restartWindow {
	w := &restartWindow{in: make(chan struct{}), proceed: make(chan struct{})}
	signal := closeOnce(w.in)
	w.logger = newHookLogger(func(r slog.Record, _ []slog.Attr) {
		if r.Message == "probe: instance up" && w.armed.Load() {
			signal()
			select {
			case <-w.proceed:
			case <-time.After(time.Minute):
			}
		}
	})
	return w
}

// A monitor that reaches a node while its target is being restarted
// attaches to the actor (which keeps its PID) instead of firing "noproc":
// the actor exists from its spawn until it is dead for good. Casts and
// messages travel on different streams, so a monitor sent right after a
// spawn can arrive after a crash the caller sent later; that is how
// TestClusterRemoteSupervisionAndCrashedCall failed under load.
func TestMonitorArrivingDuringARestartAttaches(t *testing.T) {
	w := newRestartWindow()
	logger, armed, inRestart, proceed := w.logger, &w.armed, w.in, w.proceed
	monArrived, releaseMon, monHandled := make(chan struct{}), make(chan struct{}), make(chan struct{})
	arrived, handled := closeOnce(monArrived), closeOnce(monHandled)
	c := newHookedCluster(t, 2, func(i int) host.Config {
		if i == 1 {
			return host.Config{Logger: logger}
		}
		return host.Config{}
	}, func(i int, tr transport.Transport) transport.Transport {
		if i != 1 {
			return tr
		}
		return &hookTransport{Transport: tr,
			beforeCast: func(_ transport.NodeInfo, msg transport.Control) {
				if msg.Kind == proto.KindMonitor {
					arrived()
					<-releaseMon
				}
			},
			afterCast: func(_ transport.NodeInfo, msg transport.Control) {
				if msg.Kind == proto.KindMonitor {
					handled()
				}
			},
		}
	})
	n1, n2 := c.nodes[0], c.nodes[1]
	ctx := ctxT(t)
	deploy(t, n1, guestbuildtest.Build(t, "testdata/guests/probe"))
	require.Eventually(t, func() bool { return len(n2.Modules()) == 1 }, 5*time.Second, 5*time.Millisecond)
	pid, err := n1.Spawn(ctx, "Probe", host.SpawnOptions{Node: "n2", Isolated: true,
		Restart: wasmactor.Restart{Policy: wasmactor.Permanent, MaxRestarts: 1, Period: time.Minute}})
	require.NoError(t, err)
	mon, err := n1.Monitor(ctx, pid)
	require.NoError(t, err)
	<-monArrived // held at n2 until the actor is mid-restart

	armed.Store(true)
	crashed := make(chan error, 1)
	go func() {
		_, err := n1.Call(ctx, pid, map[string]any{"op": "crash"})
		crashed <- err
	}()
	<-inRestart
	close(releaseMon)
	<-monHandled
	close(proceed)
	require.ErrorIs(t, <-crashed, wasmactor.ErrCrashed)
	_, err = n1.Call(ctx, pid, map[string]any{"op": "echo"})
	require.NoError(t, err, "restarted under the same PID")
	syncCasts(t, n2, n1, pid, "restarted")
	noDown(t, mon)

	// The monitor is attached: it fires once, when the actor dies for good.
	armed.Store(false)
	_, err = n1.Call(ctx, pid, map[string]any{"op": "crash"})
	require.ErrorIs(t, err, wasmactor.ErrCrashed)
	require.Contains(t, waitDown(t, mon, 10*time.Second).Reason, "probe crash")
}

// The Go API's Monitor and Link of an actor being restarted on the same
// node attach to it, like a remote monitor: the restart is not a death. On
// main (which lets remote monitors wait out a restart) the local Monitor
// fired "noproc" at once and Link failed with ErrNoProc.
func TestMonitorAndLinkDuringALocalRestartAttach(t *testing.T) {
	w := newRestartWindow()
	n := newNode(t, host.Config{Logger: w.logger})
	ctx := ctxT(t)
	deploy(t, n, guestbuildtest.Build(t, "testdata/guests/probe"))
	pid, err := n.Spawn(ctx, "Probe", host.SpawnOptions{Isolated: true,
		Restart: wasmactor.Restart{Policy: wasmactor.Permanent, MaxRestarts: 1, Period: time.Minute}})
	require.NoError(t, err)
	other, err := n.Spawn(ctx, "Probe", host.SpawnOptions{})
	require.NoError(t, err)
	_, err = n.Call(ctx, other, map[string]any{"op": "trap_exit", "on": true})
	require.NoError(t, err)

	w.armed.Store(true)
	crashed := make(chan error, 1)
	go func() {
		_, err := n.Call(ctx, pid, map[string]any{"op": "crash"})
		crashed <- err
	}()
	<-w.in
	mon, err := n.Monitor(ctx, pid)
	require.NoError(t, err)
	linkErr := n.Link(ctx, other, pid)
	noDown(t, mon)
	close(w.proceed)
	require.ErrorIs(t, <-crashed, wasmactor.ErrCrashed)
	require.NoError(t, linkErr)
	_, err = n.Call(ctx, pid, map[string]any{"op": "echo"})
	require.NoError(t, err)
	noDown(t, mon)

	w.armed.Store(false)
	_, err = n.Call(ctx, pid, map[string]any{"op": "crash"})
	require.Error(t, err) // the call's own watch may tell first: ErrNoProc, "died: panic..."
	require.Contains(t, waitDown(t, mon, 10*time.Second).Reason, "probe crash")
	r, err := n.Call(ctx, other, map[string]any{"op": "events", "n": 1})
	require.NoError(t, err)
	var ev struct {
		Events []struct {
			Kind   string `cbor:"kind"`
			Reason string `cbor:"reason"`
		} `cbor:"events"`
	}
	require.NoError(t, r.Decode(&ev))
	require.Len(t, ev.Events, 1)
	require.Equal(t, "exit", ev.Events[0].Kind, "the link held across the restart")
	require.Contains(t, ev.Events[0].Reason, "probe crash")
}

// Node.Stop of an actor on another node is final, as for a local one: a
// permanent actor is not restarted, its monitors fire with "shutdown". On
// main it travelled as a kill, the restart policy brought the actor back,
// and the monitor never fired.
func TestStopOfARemotePermanentActorIsFinal(t *testing.T) {
	c := newCluster(t, 2, host.Config{})
	n1, n2 := c.nodes[0], c.nodes[1]
	ctx := ctxT(t)
	deploy(t, n1, guestbuildtest.Build(t, "testdata/guests/probe"))
	require.Eventually(t, func() bool { return len(n2.Modules()) == 1 }, 5*time.Second, 5*time.Millisecond)
	pid, err := n1.Spawn(ctx, "Probe", host.SpawnOptions{Node: "n2",
		Restart: wasmactor.Restart{Policy: wasmactor.Permanent, MaxRestarts: 5, Period: time.Minute}})
	require.NoError(t, err)
	mon, err := n1.Monitor(ctx, pid)
	require.NoError(t, err)
	require.NoError(t, n1.Stop(ctx, pid))
	require.Equal(t, wasmactor.ReasonShutdown, waitDown(t, mon, 10*time.Second).Reason)
	require.Zero(t, n2.Stats().Restarts)
	_, err = n1.Call(ctx, pid, map[string]any{"op": "echo"})
	require.ErrorIs(t, err, wasmactor.ErrNoProc)
}

// A node that had only heard of a module (from a peer's announcement)
// stores the bytes when they are deployed to it, so it can run the module
// once the peer is gone. Before b7382a0 (main) Deploy returned at once
// because the factory index knew the hash, and the spawn below failed with
// "no connected node holds module".
func TestDeployToANodeThatOnlyHeardOfTheModuleStoresIt(t *testing.T) {
	c := newCluster(t, 2, host.Config{})
	n1, n2 := c.nodes[0], c.nodes[1]
	ctx := ctxT(t)
	wasm := guestbuildtest.Build(t, "examples/counter")
	info, err := n1.Deploy(ctx, wasm)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(n2.Modules()) == 1 }, 5*time.Second, 5*time.Millisecond)
	again, err := n2.Deploy(ctx, wasm)
	require.NoError(t, err)
	require.Equal(t, info.Hash, again.Hash)

	c.net.Kill("n1")
	require.Eventually(t, func() bool { return len(n2.Members()) == 0 }, 10*time.Second, 5*time.Millisecond)
	pid, err := n2.Spawn(ctx, "Counter", host.SpawnOptions{Node: "n2"})
	require.NoError(t, err)
	require.Zero(t, getCounter(t, n2, pid).Value)
	require.Zero(t, n2.Pulls())
}

// Deploying a module again replaces a copy that rotted on disk. On main
// Deploy returned before looking at the store, and the file stayed bad.
func TestRedeployReplacesARottenBlob(t *testing.T) {
	dir := t.TempDir()
	n := newNode(t, host.Config{DataDir: dir})
	ctx := ctxT(t)
	wasm := guestbuildtest.Build(t, "examples/counter")
	info, err := n.Deploy(ctx, wasm)
	require.NoError(t, err)
	blob := filepath.Join(dir, "modules", info.Hash.String()+".wasm")
	rotten := bytes.Clone(wasm)
	rotten[len(rotten)/2] ^= 0xff
	require.NoError(t, os.WriteFile(blob, rotten, 0o600))

	again, err := n.Deploy(ctx, wasm)
	require.NoError(t, err)
	require.Equal(t, info, again)
	b, err := os.ReadFile(blob)
	require.NoError(t, err)
	require.True(t, bytes.Equal(wasm, b), "the stored copy is the module again")
}

type recordedLine struct {
	msg   string
	attrs map[string]slog.Value
}

// logRecorder keeps the node's log lines whose message starts with prefix.
func logRecorder(prefix string) (*slog.Logger, func() []recordedLine) {
	var mu sync.Mutex
	var lines []recordedLine
	logger := newHookLogger(func(r slog.Record, attrs []slog.Attr) {
		if strings.HasPrefix(r.Message, prefix) {
			mu.Lock()
			lines = append(lines, recordedLine{msg: r.Message, attrs: attrsOf(r, attrs)})
			mu.Unlock()
		}
	})
	return logger, func() []recordedLine {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(lines)
	}
}

// A guest's stderr is logged under the instance that wrote it, with the
// instance number `wasmactor ps` shows for its actors. On main the line
// carried the engine's instance id and ps the host's, two unrelated
// counters.
func TestGuestStderrCarriesTheInstanceOfItsActors(t *testing.T) {
	logger, lines := logRecorder("said by ")
	n := newNode(t, host.Config{Logger: logger})
	ctx := ctxT(t)
	deploy(t, n, guestbuildtest.Build(t, "testdata/guests/probe"))
	pids := map[string]host.PID{}
	for range 3 {
		pid, err := n.Spawn(ctx, "Probe", host.SpawnOptions{Isolated: true})
		require.NoError(t, err)
		pids[pid.String()] = pid
	}
	for _, pid := range pids {
		_, err := n.Call(ctx, pid, map[string]any{"op": "stderr", "text": "said by " + pid.String()})
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { return len(lines()) == len(pids) }, 10*time.Second, time.Millisecond)
	for _, l := range lines() {
		pid := pids[strings.TrimPrefix(l.msg, "said by ")]
		require.Equal(t, "stderr", l.attrs["stream"].String())
		require.Equal(t, actorInfo(t, n, pid).Instance, l.attrs["instance"].Uint64(), l.msg)
	}
}

// The log import names the actor the guest says, but the node trusts the
// name only for an actor of the calling instance: a guest naming another
// instance's actor is logged as "claimed_actor", under its own instance.
// On main the line was logged as that other actor's.
func TestLogImportDoesNotTrustAnotherInstancesActor(t *testing.T) {
	logger, lines := logRecorder("as ")
	n := newNode(t, host.Config{Logger: logger})
	ctx := ctxT(t)
	deploy(t, n, guestbuildtest.Build(t, "testdata/guests/probe"))
	a, err := n.Spawn(ctx, "Probe", host.SpawnOptions{Isolated: true})
	require.NoError(t, err)
	b, err := n.Spawn(ctx, "Probe", host.SpawnOptions{Isolated: true})
	require.NoError(t, err)
	for _, as := range []struct {
		serial uint64
		text   string
	}{{a.Serial, "as itself"}, {b.Serial, "as b"}} {
		_, err := n.Call(ctx, a, map[string]any{"op": "log_as", "serial": as.serial, "text": as.text})
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { return len(lines()) == 2 }, 10*time.Second, time.Millisecond)
	got := lines()
	inst := actorInfo(t, n, a).Instance
	require.Equal(t, "as itself", got[0].msg)
	require.Equal(t, a.String(), got[0].attrs["actor"].String())
	require.Equal(t, inst, got[0].attrs["instance"].Uint64())
	require.Equal(t, "as b", got[1].msg)
	_, named := got[1].attrs["actor"]
	require.False(t, named, "b is not a's to speak for")
	require.Equal(t, b.String(), got[1].attrs["claimed_actor"].String())
	require.Equal(t, inst, got[1].attrs["instance"].Uint64())
}
