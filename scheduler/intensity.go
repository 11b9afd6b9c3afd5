package scheduler

import (
	"sync"
	"time"

	"github.com/wasmactor/wasmactor"
)

// Restart intensity defaults, as in the [wasmactor.Restart] documentation.
const (
	DefaultMaxRestarts = 3
	DefaultPeriod      = 5 * time.Second
)

// Intensity decides restarts for one supervised actor following Erlang/OTP:
// the restart type (temporary, transient, permanent) says which stops are
// restarted, and the intensity (MaxRestarts within Period) says when to give
// up. Once it gives up it stays given up: the actor is dead for good and its
// monitors get the last reason.
type Intensity struct {
	policy      wasmactor.RestartPolicy
	maxRestarts int
	period      time.Duration

	mu        sync.Mutex
	restarts  []time.Time // within the window, oldest first; at most maxRestarts
	exhausted bool
}

// NewIntensity returns the restart state for one actor. Zero MaxRestarts and
// Period take the defaults (3 and 5s); a negative MaxRestarts allows no
// restart at all.
func NewIntensity(r wasmactor.Restart) *Intensity {
	i := &Intensity{policy: r.Policy, maxRestarts: r.MaxRestarts, period: r.Period}
	if i.maxRestarts == 0 {
		i.maxRestarts = DefaultMaxRestarts
	}
	if i.maxRestarts < 0 {
		i.maxRestarts = 0
	}
	if i.period <= 0 {
		i.period = DefaultPeriod
	}
	return i
}

// ShouldRestart reports whether an actor that stopped with reason at now must
// be restarted, and records the restart if so.
//
// Temporary actors are never restarted; transient ones only when
// [wasmactor.IsAbnormal](reason); permanent ones always, as long as the
// intensity allows: the restart that would make MaxRestarts+1 restarts within
// Period (a sliding window ending at now) is refused, and every later call
// returns false too.
func (i *Intensity) ShouldRestart(reason string, now time.Time) bool {
	switch i.policy {
	case wasmactor.Permanent:
	case wasmactor.Transient:
		if !wasmactor.IsAbnormal(reason) {
			return false
		}
	default: // Temporary, and unknown policies fail safe
		return false
	}

	i.mu.Lock()
	defer i.mu.Unlock()
	if i.exhausted {
		return false
	}
	// Forget restarts that fell out of the window (now-period, now].
	keep := 0
	for keep < len(i.restarts) && now.Sub(i.restarts[keep]) >= i.period {
		keep++
	}
	i.restarts = append(i.restarts[:0], i.restarts[keep:]...)
	if len(i.restarts) >= i.maxRestarts {
		i.exhausted = true
		i.restarts = nil
		return false
	}
	i.restarts = append(i.restarts, now)
	return true
}

// Exhausted reports whether the intensity was exceeded (no more restarts).
func (i *Intensity) Exhausted() bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.exhausted
}
