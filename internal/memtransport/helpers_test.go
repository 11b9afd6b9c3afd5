package memtransport

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor/internal/transporttest"
	"github.com/wasmactor/wasmactor/transport"
)

// cluster is a test helper: nodes n1..nk started with recorders.
type cluster struct {
	nw   *Network
	tr   map[string]transport.Transport
	recs map[string]*transporttest.Recorder
}

func newCluster(t *testing.T, names ...string) *cluster {
	c := &cluster{nw: NewNetwork(), tr: map[string]transport.Transport{}, recs: map[string]*transporttest.Recorder{}}
	t.Cleanup(func() { require.NoError(t, c.nw.Close()) })
	for _, name := range names {
		c.add(t, name, 1)
	}
	return c
}

func (c *cluster) add(t *testing.T, name string, inc uint64) *transporttest.Recorder {
	tr := c.nw.NewNode(name, inc)
	r := transporttest.NewRecorder(t, name)
	require.NoError(t, tr.Start(context.Background(), r))
	c.tr[name] = tr
	c.recs[name] = r
	return r
}

func memberNames(tr transport.Transport) []string {
	var out []string
	for _, m := range tr.Members() {
		out = append(out, m.Name)
	}
	return out
}

// eventStrings renders r's events as "up n2/1" and "down n2/1 <reason>".
func eventStrings(r *transporttest.Recorder) []string {
	var out []string
	for _, e := range r.Events() {
		if e.Up {
			out = append(out, fmt.Sprintf("up %s/%d", e.Peer.Name, e.Peer.Incarnation))
		} else {
			out = append(out, fmt.Sprintf("down %s/%d %v", e.Peer.Name, e.Peer.Incarnation, e.Reason))
		}
	}
	return out
}
