package actor

// actorTable holds an instance's live actors by id. It is an open-addressed
// table of *Context with linear probing (the id is the Context's own), in
// place of a map[uint64]*Context: a slot is 8 bytes where a Go map's is 16
// plus control bytes, growing it leaves half the garbage, and a lookup is a
// multiply, a shift and a compare. Every START adds an actor, so its
// allocations are what the guest's GC pays for in a spawn storm, and a Go
// wasm guest pays far more than native code for each runtime call a map
// makes.
//
// Deletion shifts the rest of the probe run back (no tombstones). Like a
// map, the table never shrinks: an instance whose population comes and
// goes (spawn and stop cycles) would otherwise reallocate it every cycle,
// and the garbage of different sizes grows the guest's memory, which wasm
// never gives back (TestSpawnStopCyclesReturnResources).
type actorTable struct {
	slots []*Context // len is 0 or a power of two
	n     int
	shift uint8 // 64 - log2(len(slots))
}

const minActorSlots = 64

// home is the slot where a probe for id starts: Fibonacci hashing, whose
// top bits spread sequential ids (host serials) evenly.
func (t *actorTable) home(id uint64) int { return int((id * 0x9E3779B97F4A7C15) >> t.shift) }

// len is the number of actors in the table.
func (t *actorTable) len() int { return t.n }

// get returns the actor with id, or nil.
func (t *actorTable) get(id uint64) *Context {
	if t.n == 0 {
		return nil
	}
	mask := len(t.slots) - 1
	for i := t.home(id); ; i = (i + 1) & mask {
		c := t.slots[i]
		if c == nil || c.id == id {
			return c
		}
	}
}

// put adds c; false, leaving the table as it was, if an actor with its id
// is there already.
func (t *actorTable) put(c *Context) bool {
	if (t.n+1)*4 > len(t.slots)*3 { // over 3/4 full
		t.resize(max(minActorSlots, 2*len(t.slots)))
	}
	mask := len(t.slots) - 1
	for i := t.home(c.id); ; i = (i + 1) & mask {
		s := t.slots[i]
		if s == nil {
			t.slots[i] = c
			t.n++
			return true
		}
		if s.id == c.id {
			return false
		}
	}
}

// delete removes the actor with id, if there is one.
func (t *actorTable) delete(id uint64) {
	if t.n == 0 {
		return
	}
	mask := len(t.slots) - 1
	i := t.home(id)
	for {
		c := t.slots[i]
		if c == nil {
			return
		}
		if c.id == id {
			break
		}
		i = (i + 1) & mask
	}
	// Close the hole: move back each later entry of the run whose home is
	// not in the cyclic interval (i, j], so every probe still finds it.
	for j := (i + 1) & mask; t.slots[j] != nil; j = (j + 1) & mask {
		k := t.home(t.slots[j].id)
		if (j > i && (k <= i || k > j)) || (j < i && k <= i && k > j) {
			t.slots[i] = t.slots[j]
			i = j
		}
	}
	t.slots[i] = nil
	t.n--
}

// resize rehashes the table into size slots (a power of two) that hold
// it.
func (t *actorTable) resize(size int) {
	old := t.slots
	t.slots = make([]*Context, size)
	t.shift = uint8(64 - log2(size))
	mask := size - 1
	for _, c := range old {
		if c == nil {
			continue
		}
		i := t.home(c.id)
		for t.slots[i] != nil {
			i = (i + 1) & mask
		}
		t.slots[i] = c
	}
}

// log2 of a power of two.
func log2(n int) int {
	k := 0
	for n > 1 {
		n >>= 1
		k++
	}
	return k
}
