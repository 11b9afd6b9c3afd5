package registry

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/cbormode"
)

// MaxNameLen is the longest actor or group name, in bytes.
const MaxNameLen = 255

// ValidateName checks an actor or group name: 1..255 bytes of valid UTF-8,
// only printable characters, no white space, and not starting with '<' (so
// the command line can tell a name from a PID like <n2.17>). Errors wrap
// [wasmactor.ErrBadArgument].
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

// Claim is one registration of a name: who holds it and when it was
// registered. Claims are what the cluster layer replicates.
type Claim struct {
	Name string        `cbor:"1,keyasint" json:"name"`
	PID  wasmactor.PID `cbor:"2,keyasint" json:"pid"`
	// At is the registration time in unix nanoseconds at the registering node.
	At int64 `cbor:"3,keyasint" json:"at"`
}

// beats reports whether c wins a conflict over d: the earlier registration,
// then the smaller PID. A pure function of the two claims, so every node
// agrees.
func (c Claim) beats(d Claim) bool {
	if c.At != d.At {
		return c.At < d.At
	}
	return c.PID.Less(d.PID)
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

// Names maps cluster-wide names to PIDs: one PID per name, any number of
// names per PID.
type Names struct {
	mu     sync.RWMutex
	byName map[string]Claim
	byPID  map[wasmactor.PID][]string // unsorted; a PID holds few names
}

// NewNames returns an empty name table.
func NewNames() *Names {
	return &Names{byName: make(map[string]Claim), byPID: make(map[wasmactor.PID][]string)}
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

// Merge applies a claim learned from another node. If the name is free the
// claim takes it. On a conflict the earlier At wins, ties broken by
// [wasmactor.PID.Less]; Merge returns the losing claim (the old holder or c
// itself) so the caller can tell its owner, or nil if nobody lost. A claim
// for the PID that already holds the name keeps the earlier At.
//
// The outcome depends only on the set of claims merged, not their order, so
// nodes that saw the same claims agree. An invalid claim never wins: Merge
// returns it as the loser.
//
// # Notes
//
// Merge cannot know that a claim's PID has died; the cluster layer must not
// merge claims of PIDs it knows are dead, and removes names with
// [Names.RemovePID] and [Names.RemoveNode].
func (n *Names) Merge(c Claim) (loser *Claim) {
	if c.validate() != nil {
		return &c
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	old, ok := n.byName[c.Name]
	switch {
	case !ok:
		n.set(c)
		return nil
	case old.PID == c.PID:
		if c.At < old.At {
			n.byName[c.Name] = c
		}
		return nil
	case c.beats(old):
		n.remove(old)
		n.set(c)
		return &old
	default:
		return &c
	}
}

// set records c; the caller holds the write lock and has made the name free.
func (n *Names) set(c Claim) {
	n.byName[c.Name] = c
	n.byPID[c.PID] = append(n.byPID[c.PID], c.Name)
}

// remove deletes c; the caller holds the write lock and c is current.
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
}

// Whereis returns the PID registered under name. It takes only a read lock:
// it is on the path of every message sent by name.
func (n *Names) Whereis(name string) (wasmactor.PID, bool) {
	n.mu.RLock()
	c, ok := n.byName[name]
	n.mu.RUnlock()
	return c.PID, ok
}

// Claim returns the current claim on name, with its registration time.
func (n *Names) Claim(name string) (Claim, bool) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	c, ok := n.byName[name]
	return c, ok
}

// Unregister frees name if pid holds it, and reports whether it did.
func (n *Names) Unregister(name string, pid wasmactor.PID) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	c, ok := n.byName[name]
	if !ok || c.PID != pid {
		return false
	}
	n.remove(c)
	return true
}

// RemovePID frees every name pid holds (the actor died) and returns them,
// sorted.
func (n *Names) RemovePID(pid wasmactor.PID) []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	names := n.byPID[pid]
	delete(n.byPID, pid)
	for _, name := range names {
		delete(n.byName, name)
	}
	slices.Sort(names)
	return names
}

// RemoveNode frees every name held by a PID on node, whatever its
// incarnation (the node went down), and returns them, sorted.
func (n *Names) RemoveNode(node string) []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var removed []string
	for pid, names := range n.byPID {
		if pid.Node != node {
			continue
		}
		delete(n.byPID, pid)
		for _, name := range names {
			delete(n.byName, name)
		}
		removed = append(removed, names...)
	}
	slices.Sort(removed)
	return removed
}

// List returns every claim, sorted by name.
func (n *Names) List() []Claim {
	n.mu.RLock()
	out := make([]Claim, 0, len(n.byName))
	for _, c := range n.byName {
		out = append(out, c)
	}
	n.mu.RUnlock()
	slices.SortFunc(out, func(a, b Claim) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Of returns the names pid holds, sorted.
func (n *Names) Of(pid wasmactor.PID) []string {
	n.mu.RLock()
	names := slices.Clone(n.byPID[pid])
	n.mu.RUnlock()
	slices.Sort(names)
	return names
}
