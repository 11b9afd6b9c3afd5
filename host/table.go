package host

import (
	"sync"
)

// table maps actor serials to actors. It is sharded because every message
// looks its target up here; one lock would serialise all workers.
type table struct {
	shards [64]tableShard
}

type tableShard struct {
	mu sync.RWMutex
	m  map[uint64]*actor
}

func (t *table) init() {
	for i := range t.shards {
		t.shards[i].m = make(map[uint64]*actor)
	}
}

func (t *table) shard(serial uint64) *tableShard { return &t.shards[serial%uint64(len(t.shards))] }

func (t *table) get(serial uint64) *actor {
	s := t.shard(serial)
	s.mu.RLock()
	a := s.m[serial]
	s.mu.RUnlock()
	return a
}

func (t *table) put(a *actor) {
	s := t.shard(a.serial)
	s.mu.Lock()
	s.m[a.serial] = a
	s.mu.Unlock()
}

func (t *table) delete(serial uint64) {
	s := t.shard(serial)
	s.mu.Lock()
	delete(s.m, serial)
	s.mu.Unlock()
}

func (t *table) len() int {
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}

func (t *table) all() []*actor {
	var out []*actor
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.RLock()
		for _, a := range s.m {
			out = append(out, a)
		}
		s.mu.RUnlock()
	}
	return out
}
