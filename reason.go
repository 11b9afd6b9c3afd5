package wasmactor

import "time"

// Stop reasons, as delivered to monitors and links. A reason is a short text;
// anything other than [ReasonNormal] and [ReasonShutdown] is abnormal.
const (
	ReasonNormal       = "normal"       // the actor stopped itself
	ReasonShutdown     = "shutdown"     // its node or supervisor stopped it
	ReasonKilled       = "killed"       // stopped by Kill
	ReasonNoProc       = "noproc"       // monitored or linked a PID that was already dead
	ReasonNoConnection = "noconnection" // its node went down or became unreachable
	ReasonDeadline     = "deadline"     // a guest call ran past its deadline (prefix)
	ReasonTrap         = "trap"         // the guest trapped (prefix: "trap: ...")
	ReasonPanic        = "panic"        // the guest SDK reported a panic (prefix)
)

// IsAbnormal reports whether reason should trigger transient restarts and
// kill linked actors.
func IsAbnormal(reason string) bool {
	return reason != ReasonNormal && reason != ReasonShutdown
}

// RestartPolicy says whether a supervised actor is restarted when it stops,
// following Erlang/OTP's child restart types.
type RestartPolicy uint8

const (
	// Temporary actors are never restarted (the default).
	Temporary RestartPolicy = iota
	// Transient actors are restarted only after an abnormal stop.
	Transient
	// Permanent actors are always restarted.
	Permanent
)

func (p RestartPolicy) String() string {
	switch p {
	case Temporary:
		return "temporary"
	case Transient:
		return "transient"
	case Permanent:
		return "permanent"
	}
	return "unknown"
}

// Restart is a restart policy with its intensity: at most MaxRestarts restarts
// within Period; one more and the actor stays dead and its monitors get the
// last reason. The zero value is Temporary.
type Restart struct {
	Policy RestartPolicy `json:"policy"`
	// MaxRestarts defaults to 3 when zero.
	MaxRestarts int `json:"max_restarts"`
	// Period defaults to 5s when zero.
	Period time.Duration `json:"period"`
}
