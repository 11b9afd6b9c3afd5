package registry

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/cbormode"
)

// MaxNameLen is the longest actor or group name, in bytes.
const MaxNameLen = 255

// ValidateName checks an actor or group name: 1..255 bytes of valid UTF-8,
// only printable characters, no white space, and not starting with '<' (so
// the command line can tell a name from a PID like <n2.3f9a0c11d2e4b607.17>).
// Errors wrap [wasmactor.ErrBadArgument].
func ValidateName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty name", wasmactor.ErrBadArgument)
	case len(name) > MaxNameLen:
		return fmt.Errorf("%w: name %q is %d bytes, at most %d allowed", wasmactor.ErrBadArgument, clip(name), len(name), MaxNameLen)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: name %q is not valid UTF-8", wasmactor.ErrBadArgument, clip(name))
	case name[0] == '<':
		return fmt.Errorf("%w: name %q starts with '<', which is reserved for PIDs", wasmactor.ErrBadArgument, clip(name))
	}
	for i, r := range name {
		if unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return fmt.Errorf("%w: name %q has %U at byte %d; names are printable and contain no spaces", wasmactor.ErrBadArgument, clip(name), r, i)
		}
	}
	return nil
}

// Claim is one registration of a name: which actor holds it. Claims are
// what the cluster layer replicates.
//
// A claim carries no registration time: the order of claims must not be
// something the claiming node picks (see [Names.Offer] and [Claim.Precedes]).
// Version-1 peers that still send a time (key 3) have it ignored.
type Claim struct {
	Name string        `cbor:"1,keyasint" json:"name"`
	PID  wasmactor.PID `cbor:"2,keyasint" json:"pid"`
}

// Precedes reports whether c wins over d when the two were registered
// concurrently by different nodes: the smaller SHA-256 of (name, node name)
// wins, then the smaller PID. It depends on nothing the claiming node can
// choose per claim: node names are fixed configuration, so a node that wants
// to win a given name must take another identity. Every node computes the
// same answer.
func (c Claim) Precedes(d Claim) bool {
	rc, rd := rank(c.Name, c.PID.Node), rank(d.Name, d.PID.Node)
	if x := bytes.Compare(rc[:], rd[:]); x != 0 {
		return x < 0
	}
	return c.PID.Less(d.PID)
}

// rank is a claim's place in the tie-break: SHA-256 over the length-prefixed
// name and the node name, so no two (name, node) pairs share an input.
func rank(name, node string) [sha256.Size]byte {
	b := make([]byte, 0, 4+len(name)+len(node))
	b = binary.BigEndian.AppendUint32(b, uint32(len(name)))
	b = append(b, name...)
	b = append(b, node...)
	return sha256.Sum256(b)
}

func (c Claim) validate() error {
	if err := ValidateName(c.Name); err != nil {
		return err
	}
	if c.PID.IsZero() || c.PID.Node == "" {
		return fmt.Errorf("%w: claim of %q has no PID", wasmactor.ErrBadArgument, clip(c.Name))
	}
	return nil
}

// EncodeClaim encodes c in deterministic CBOR.
func EncodeClaim(c Claim) ([]byte, error) { return cbormode.Deterministic().Marshal(c) }

// DecodeClaim decodes and validates a Claim from untrusted bytes with strict
// CBOR options.
func DecodeClaim(b []byte) (Claim, error) {
	var c Claim
	if err := cbormode.Strict().Unmarshal(b, &c); err != nil {
		return Claim{}, fmt.Errorf("%w: name claim: %v", wasmactor.ErrBadArgument, err)
	}
	if err := c.validate(); err != nil {
		return Claim{}, err
	}
	return c, nil
}

// Verdict is what [Names.Offer] did with a claim.
type Verdict uint8

const (
	// Taken: the claim holds the name now (it was free, or held by another
	// actor of the same node, which decides about its own names).
	Taken Verdict = iota + 1
	// Kept: the claim's PID already held the name.
	Kept
	// Waiting: another node's claim holds the name; the offered claim waits
	// behind it and takes the name if the holder lets go.
	Waiting
	// Refused: the claim is invalid or its node is over the limit.
	Refused
)

// held is a claim that holds its name, with the moment it took the name
// here.
type held struct {
	Claim
	since time.Time
}

// Names maps cluster-wide names to PIDs: one PID per name, any number of
// names per PID. Besides the holder of each name it keeps, per name, at most
// one waiting claim per other node (see [Names.Offer]).
type Names struct {
	mu      sync.RWMutex
	byName  map[string]held
	byPID   map[wasmactor.PID][]string // holders only; unsorted, a PID holds few names
	waiting map[string][]Claim         // per name, claims of other nodes behind the holder
	waitsOf map[wasmactor.PID]int      // how many claims each PID has waiting
	perNode map[string]int             // claims per node, holding or waiting
}

// NewNames returns an empty name table.
func NewNames() *Names {
	return &Names{
		byName:  make(map[string]held),
		byPID:   make(map[wasmactor.PID][]string),
		waiting: make(map[string][]Claim),
		waitsOf: make(map[wasmactor.PID]int),
		perNode: make(map[string]int),
	}
}

// Register is a local registration: first come wins. Registering a name the
// same PID already holds succeeds and keeps the original claim. The error
// wraps [wasmactor.ErrNameTaken] if another PID holds the name, or
// [wasmactor.ErrBadArgument] for an invalid name or a zero PID.
func (n *Names) Register(c Claim) error {
	if err := c.validate(); err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if old, ok := n.byName[c.Name]; ok {
		if old.PID == c.PID {
			return nil
		}
		return fmt.Errorf("%w: %q is held by %v", wasmactor.ErrNameTaken, c.Name, old.PID)
	}
	n.set(c)
	return nil
}

// Offer applies a claim learned from the claim's own node. The caller has
// checked that the node sending it is c.PID.Node.
//
// A free name is taken. A name held by another actor of c's node is taken
// too: a node decides about its own names. A name held by another node is
// not: the holder keeps it (the incumbent wins) and c waits behind it,
// replacing any claim of c's node already waiting for that name. When a
// holder lets go ([Names.Unregister], [Names.RemovePID],
// [Names.RemoveNode]) the waiting claim that [Claim.Precedes] all others
// takes the name.
//
// Offer returns its verdict and, for Waiting, the holder and when it took
// the name here, so that the holder's own node can decide whether to let go
// (it alone can: see the cluster layer). A claim that would give its node
// more than limit claims (holding or waiting) is Refused; limit <= 0 means
// no limit. An invalid claim is Refused.
func (n *Names) Offer(c Claim, limit int) (v Verdict, holder Claim, since time.Time) {
	if c.validate() != nil {
		return Refused, Claim{}, time.Time{}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	old, ok := n.byName[c.Name]
	switch {
	case ok && old.PID == c.PID:
		return Kept, Claim{}, time.Time{}
	case ok && old.PID.Node == c.PID.Node:
		n.remove(old.Claim)
		n.set(c)
		return Taken, Claim{}, time.Time{}
	}
	ws := n.waiting[c.Name]
	i := slices.IndexFunc(ws, func(w Claim) bool { return w.PID.Node == c.PID.Node })
	if i < 0 && limit > 0 && n.perNode[c.PID.Node] >= limit {
		return Refused, Claim{}, time.Time{}
	}
	if !ok {
		if i >= 0 { // cannot happen: claims wait only behind a holder
			n.dropWaiting(c.Name, i)
		}
		n.set(c)
		return Taken, Claim{}, time.Time{}
	}
	if i >= 0 {
		n.unwait(ws[i].PID)
		ws[i] = c
	} else {
		n.waiting[c.Name] = append(ws, c)
		n.perNode[c.PID.Node]++
	}
	n.waitsOf[c.PID]++
	return Waiting, old.Claim, old.since
}

// set records c as the holder of its name; the caller holds the write lock
// and has made the name free.
func (n *Names) set(c Claim) {
	n.byName[c.Name] = held{Claim: c, since: time.Now()}
	n.byPID[c.PID] = append(n.byPID[c.PID], c.Name)
	n.perNode[c.PID.Node]++
}

// remove deletes c, the holder of its name, without promoting a waiting
// claim; the caller holds the write lock.
func (n *Names) remove(c Claim) {
	delete(n.byName, c.Name)
	names := n.byPID[c.PID]
	if i := slices.Index(names, c.Name); i >= 0 {
		names = slices.Delete(names, i, i+1)
	}
	if len(names) == 0 {
		delete(n.byPID, c.PID)
	} else {
		n.byPID[c.PID] = names
	}
	n.uncount(c.PID.Node)
}

func (n *Names) uncount(node string) {
	if n.perNode[node]--; n.perNode[node] <= 0 {
		delete(n.perNode, node)
	}
}

// dropWaiting deletes the i-th claim waiting for name; the caller holds the
// write lock.
func (n *Names) dropWaiting(name string, i int) {
	ws := n.waiting[name]
	n.uncount(ws[i].PID.Node)
	n.unwait(ws[i].PID)
	ws = slices.Delete(ws, i, i+1)
	if len(ws) == 0 {
		delete(n.waiting, name)
	} else {
		n.waiting[name] = ws
	}
}

func (n *Names) unwait(pid wasmactor.PID) {
	if n.waitsOf[pid]--; n.waitsOf[pid] <= 0 {
		delete(n.waitsOf, pid)
	}
}

// release frees name, held by c, and gives it to the best waiting claim;
// the caller holds the write lock.
func (n *Names) release(c Claim) {
	n.remove(c)
	ws := n.waiting[c.Name]
	if len(ws) == 0 {
		return
	}
	best := 0
	for i := range ws[1:] {
		if ws[i+1].Precedes(ws[best]) {
			best = i + 1
		}
	}
	next := ws[best]
	n.dropWaiting(c.Name, best)
	n.set(next)
}

// Whereis returns the PID registered under name. It takes only a read lock:
// it is on the path of every message sent by name.
func (n *Names) Whereis(name string) (wasmactor.PID, bool) {
	n.mu.RLock()
	c, ok := n.byName[name]
	n.mu.RUnlock()
	return c.PID, ok
}

// Claim returns the current claim on name.
func (n *Names) Claim(name string) (Claim, bool) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	c, ok := n.byName[name]
	return c.Claim, ok
}

// Unregister withdraws pid's claim on name, holding or waiting, and reports
// whether there was one. A holder that goes hands the name to the best
// waiting claim.
func (n *Names) Unregister(name string, pid wasmactor.PID) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if c, ok := n.byName[name]; ok && c.PID == pid {
		n.release(c.Claim)
		return true
	}
	if i := slices.IndexFunc(n.waiting[name], func(w Claim) bool { return w.PID == pid }); i >= 0 {
		n.dropWaiting(name, i)
		return true
	}
	return false
}

// RemovePID withdraws every claim of pid (the actor died) and returns the
// names it held, sorted. Waiting claims take those names as Unregister says.
func (n *Names) RemovePID(pid wasmactor.PID) []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	names := slices.Clone(n.byPID[pid])
	for _, name := range names {
		n.release(n.byName[name].Claim)
	}
	if n.waitsOf[pid] > 0 { // rare: an actor's death costs no scan otherwise
		n.dropWaitingWhere(func(w Claim) bool { return w.PID == pid })
	}
	slices.Sort(names)
	return names
}

// RemoveNode withdraws every claim of a PID on node, whatever its
// incarnation (the node went down), and returns the names it held, sorted.
func (n *Names) RemoveNode(node string) []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.dropWaitingWhere(func(w Claim) bool { return w.PID.Node == node })
	var removed []string
	for pid, names := range n.byPID {
		if pid.Node != node {
			continue
		}
		names = slices.Clone(names) // release edits the table's slice
		for _, name := range names {
			n.release(n.byName[name].Claim)
		}
		removed = append(removed, names...)
	}
	slices.Sort(removed)
	return removed
}

// dropWaitingWhere deletes the waiting claims that match; the caller holds
// the write lock.
func (n *Names) dropWaitingWhere(match func(Claim) bool) {
	for name, ws := range n.waiting {
		for i := len(ws) - 1; i >= 0; i-- {
			if match(ws[i]) {
				n.dropWaiting(name, i)
				ws = n.waiting[name]
			}
		}
	}
}

// List returns every holding claim, sorted by name.
func (n *Names) List() []Claim {
	n.mu.RLock()
	out := make([]Claim, 0, len(n.byName))
	for _, c := range n.byName {
		out = append(out, c.Claim)
	}
	n.mu.RUnlock()
	slices.SortFunc(out, func(a, b Claim) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Waiting returns the claims waiting for name behind its holder, best first
// (by [Claim.Precedes]).
func (n *Names) Waiting(name string) []Claim {
	n.mu.RLock()
	ws := slices.Clone(n.waiting[name])
	n.mu.RUnlock()
	slices.SortFunc(ws, func(a, b Claim) int {
		switch {
		case a.Precedes(b):
			return -1
		case b.Precedes(a):
			return 1
		}
		return 0
	})
	return ws
}

// NodeClaims is how many claims of node's actors the table holds, holding or
// waiting.
func (n *Names) NodeClaims(node string) int {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.perNode[node]
}

// Of returns the names pid holds, sorted.
func (n *Names) Of(pid wasmactor.PID) []string {
	n.mu.RLock()
	names := slices.Clone(n.byPID[pid])
	n.mu.RUnlock()
	slices.Sort(names)
	return names
}
