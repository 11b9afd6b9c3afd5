package host

import (
	"context"
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
	"sort"
	"time"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/proto"
	"github.com/wasmactor/wasmactor/token"
)

// The observer is a read-only web page of the cluster, served at / on the
// node's HTTP listener. The page is static (observer/, embedded in the
// binary) and polls two JSON endpoints a few times a second:
//
//   - /api/cluster: every node's status (this node's own, the others' by a
//     status request each), the modules with their holders and actor counts,
//     and the nodes' recent crashes;
//   - /api/actors?node=NAME: the actors of one node, at most maxObserved.
//
// /api/cluster also carries this node's traffic with each peer
// (transport.PeerStats): counters, from which the page computes rates
// between two polls as it does for message rates, and the RTT. Only the
// serving node's view: the others' would cost every status request a
// list per member, and the page can be opened on any node.
//
//go:embed observer
var observerFS embed.FS

// maxObserverRequests bounds the observer's API requests in flight.
const maxObserverRequests = 8

// maxObserved bounds the actors one /api/actors answer lists.
const maxObserved = 1000

type clusterView struct {
	Self    string            `json:"self"`
	UnixMs  int64             `json:"unix_ms"`
	Nodes   []nodeView        `json:"nodes"`
	Modules []moduleView      `json:"modules"`
	Crashes []crashView       `json:"crashes"`
	Peers   []peerView        `json:"peers"`
	Errors  map[string]string `json:"errors,omitempty"` // node → why it did not answer
}

type nodeView struct {
	proto.NodeStatus
	Incarnation string `json:"incarnation"` // hex, as PIDs print it
}

type moduleView struct {
	Hash      string   `json:"hash"`
	Factories []string `json:"factories"`
	Holders   []string `json:"holders"`
	Actors    int      `json:"actors"`
	Newest    bool     `json:"newest"` // the default version of one of its factories
}

// actorView prints the PID as users type it: JSON numbers lose the low bits
// of a 64-bit incarnation in a browser.
type actorView struct {
	proto.ActorInfo
	PID string `json:"pid"`
}

// peerView is this node's traffic with one peer node, counted since the
// peer became a member; RTT in microseconds, 0 while it is down.
type peerView struct {
	Peer              string `json:"peer"`
	Up                bool   `json:"up"`
	MsgsIn            uint64 `json:"msgs_in"`
	MsgsOut           uint64 `json:"msgs_out"`
	BytesIn           uint64 `json:"bytes_in"`
	BytesOut          uint64 `json:"bytes_out"`
	RTTMicros         int64  `json:"rtt_us"`
	Reconnects        uint64 `json:"reconnects"`
	HandshakeFailures uint64 `json:"handshake_failures"`
}

type crashView struct {
	Node string `json:"node"`
	proto.Crash
}

func (n *Node) observerHandlers(mux *http.ServeMux, auth *token.Authority) {
	static, _ := fs.Sub(observerFS, "observer")
	mux.Handle("GET /", http.FileServerFS(static))
	// Each API request may ask every member for its status: bound how many
	// run at once, so open pages or a script cannot pile up fan-outs.
	busy := make(chan struct{}, maxObserverRequests)
	// The token is checked first, so requests without one take no slot.
	limited := func(h http.HandlerFunc) http.HandlerFunc {
		return viewerOnly(auth, func(w http.ResponseWriter, r *http.Request) {
			select {
			case busy <- struct{}{}:
				defer func() { <-busy }()
				h(w, r)
			default:
				http.Error(w, "observer busy, retry", http.StatusServiceUnavailable)
			}
		})
	}
	mux.HandleFunc("GET /api/cluster", limited(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		writeJSON(w, n.clusterView(ctx))
	}))
	mux.HandleFunc("GET /api/actors", limited(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		node := r.URL.Query().Get("node")
		if node == "" {
			node = n.cfg.Name
		}
		actors, err := n.actorsOn(ctx, node)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		if len(actors) > maxObserved {
			actors = actors[:maxObserved]
		}
		out := make([]actorView, len(actors))
		for i, a := range actors {
			out[i] = actorView{ActorInfo: a, PID: a.PID.String()}
		}
		writeJSON(w, out)
	}))
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v)
}

// clusterView gathers what the observer shows. A member that does not answer
// is listed as down with the reason, never left out.
func (n *Node) clusterView(ctx context.Context) clusterView {
	v := clusterView{Self: n.cfg.Name, UnixMs: time.Now().UnixMilli(), Peers: []peerView{}}
	for _, p := range n.peerStats() {
		v.Peers = append(v.Peers, peerView{Peer: p.Peer, Up: p.Up, MsgsIn: p.MessagesIn, MsgsOut: p.MessagesOut,
			BytesIn: p.BytesIn, BytesOut: p.BytesOut, RTTMicros: p.RTT.Microseconds(), Reconnects: p.Reconnects,
			HandshakeFailures: p.HandshakeFailures})
	}
	statuses := []proto.NodeStatus{n.status()}
	for _, ms := range n.memberStatuses(ctx) {
		st := ms.st
		if ms.err != nil {
			st = proto.NodeStatus{Name: ms.node.Name, Incarnation: ms.node.Incarnation, Addr: ms.node.Addr}
			if v.Errors == nil {
				v.Errors = map[string]string{}
			}
			v.Errors[ms.node.Name] = ms.err.Error()
		}
		statuses = append(statuses, st)
	}
	sort.Slice(statuses, func(i, j int) bool { return statuses[i].Name < statuses[j].Name })
	actorsPerModule := map[string]int{}
	for _, st := range statuses {
		v.Nodes = append(v.Nodes, nodeView{NodeStatus: st, Incarnation: wasmactor.FormatIncarnation(st.Incarnation)})
		for h, c := range st.ModuleActors {
			actorsPerModule[h] += c
		}
		for _, c := range st.RecentCrashes {
			v.Crashes = append(v.Crashes, crashView{Node: st.Name, Crash: c})
		}
	}
	sort.Slice(v.Crashes, func(i, j int) bool { return v.Crashes[i].UnixMs > v.Crashes[j].UnixMs })
	newest := map[string]bool{}
	for _, info := range n.factories.Modules() { // newest first
		mv := moduleView{Hash: info.Hash.String(), Factories: info.Factories, Actors: actorsPerModule[info.Hash.Short()]}
		for _, f := range info.Factories {
			if !newest[f] {
				newest[f], mv.Newest = true, true
			}
		}
		mv.Holders = n.holdersOf(info.Hash)
		v.Modules = append(v.Modules, mv)
	}
	return v
}

// actorsOn lists the actors of one node: this one, or a member asked for
// its list.
func (n *Node) actorsOn(ctx context.Context, node string) ([]proto.ActorInfo, error) {
	var all []proto.ActorInfo
	var after uint64
	for {
		page, _, err := n.nodePage(ctx, node, after, proto.DefaultPageBytes)
		if err != nil {
			return nil, err
		}
		all = append(all, page.Actors...)
		if page.Next == nil {
			return all, nil
		}
		after = page.Next.Serial
	}
}
