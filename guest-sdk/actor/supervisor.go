package actor

import (
	"errors"
	"strconv"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// Strategy says which children a supervisor restarts when one must be
// restarted: Erlang/OTP's restart strategies.
type Strategy uint8

const (
	// OneForOne restarts only the child that stopped. The zero value.
	OneForOne Strategy = iota
	// OneForAll stops every other running child, then starts them all again
	// in spec order: for children that cannot live without each other.
	OneForAll
	// RestForOne stops the running children after the one that stopped (in
	// spec order), then starts it and them again: for children that depend
	// on those before them.
	RestForOne
)

// Supervisor defaults, as for the host's restart policies.
const (
	DefaultMaxRestarts = 3
	DefaultPeriod      = 5 * time.Second
)

// ReasonRestartIntensity is the reason a supervisor stops with when its
// children needed more restarts than its intensity allows. It is abnormal,
// so the supervisor's own supervisor (or any linked actor) sees a failure.
const ReasonRestartIntensity = "restart intensity exceeded"

// ChildSpec describes one child of a supervisor.
type ChildSpec struct {
	// Name identifies the child within its supervisor: unique among its
	// children, 1 to 128 bytes. It is not a cluster-wide name: a child that
	// wants one registers itself (Context.Register) from its Init.
	Name string
	// Factory is what to spawn: a factory name, or Name@hashprefix.
	Factory string
	// Args are the child's init arguments, encoded as CBOR once, when the
	// supervisor starts, and given to every start of the child. Nil means
	// none.
	Args any
	// Restart is the child's restart type. The zero value is Temporary, as
	// everywhere in wasmactor (OTP's child specs default to permanent):
	// give Permanent to a child that must always run.
	Restart RestartPolicy
	// Options are given to every start of the child: [SpawnIsolated], [On]
	// for a child on another node, [Restart] for a child its node restarts
	// in place before the supervisor hears of it. SpawnLink and SpawnMonitor
	// are always added. A child with On or Restart starts through
	// [Context.SpawnRequest], so its start completes later: a failure then
	// counts as a restart, where a local child that cannot be spawned fails
	// the supervisor's Init.
	Options []SpawnOption
}

// SupervisorSpec is what a supervisor does: its strategy, its restart
// intensity (at most MaxRestarts restarts within Period; one more and it
// gives up) and its children, started in order.
type SupervisorSpec struct {
	Strategy Strategy
	// MaxRestarts defaults to 3 when zero; a negative value allows none.
	MaxRestarts int
	// Period defaults to 5s when zero or negative.
	Period   time.Duration
	Children []ChildSpec
}

// SupervisorInit returns a supervisor's spec, given its spawn arguments.
// An error stops the supervisor with the error's text as reason before any
// child starts.
type SupervisorInit func(ctx *Context, args Message) (SupervisorSpec, error)

// Supervisor returns a factory of supervisors whose spec init computes:
//
//	actor.Register("Tree", actor.Supervisor(func(ctx *actor.Context, args actor.Message) (actor.SupervisorSpec, error) {
//		return actor.SupervisorSpec{
//			Strategy: actor.OneForOne,
//			Children: []actor.ChildSpec{
//				{Name: "db", Factory: "DB", Restart: actor.Permanent},
//				{Name: "web", Factory: "Web", Restart: actor.Permanent},
//			},
//		}, nil
//	}))
//
// See the package documentation's "Supervisors" section for what it does.
// Supervisor panics if init is nil; called from the guest's init, as
// Register is, the panic makes the host reject the module at deploy.
func Supervisor(init SupervisorInit) func() Actor {
	if init == nil {
		panic("wasmactor: Supervisor(nil)")
	}
	return func() Actor { return &supervisor{init: init, now: time.Now} }
}

// SupervisorRequest is a request a supervisor answers, sent with
// [Context.Ask] (or as JSON from the command line: {"op": "which_children"}).
type SupervisorRequest struct {
	Op string `cbor:"op"` // OpWhichChildren
}

// OpWhichChildren asks a supervisor for its children; the reply decodes
// into a [SupervisorReply].
const OpWhichChildren = "which_children"

// SupervisorReply answers a [SupervisorRequest].
type SupervisorReply struct {
	Err      string      `cbor:"err,omitempty"`
	Children []ChildInfo `cbor:"children,omitempty"`
}

// ChildInfo describes one child of a supervisor, in spec order.
type ChildInfo struct {
	Name string `cbor:"name"`
	// PID is the running child, the zero PID if it is not running (a
	// temporary or transient child that stopped for good).
	PID PID `cbor:"pid"`
	// Restarts counts the starts of the child after its first.
	Restarts int `cbor:"restarts"`
}

// supervisor is the actor behind [Supervisor].
type supervisor struct {
	init     SupervisorInit
	now      func() time.Time
	strategy Strategy
	max      int
	period   time.Duration
	children []*child
	restarts []time.Time // within the period, oldest first
}

// child is a ChildSpec and the state of its current run.
type child struct {
	spec     ChildSpec
	args     []byte
	request  bool // started with SpawnRequest (On or Restart among its options)
	pid      PID  // zero when not running
	mon      Ref  // the supervisor's monitor of pid
	starting bool // a spawn request is in flight
	gen      uint64
	started  bool
	restarts int
	due      bool // to be started by the restart under way
}

// running reports whether the child runs or is being started.
func (c *child) running() bool { return !c.pid.IsZero() || c.starting }

// Init starts the children in order. It traps exits, so an abnormal stop of
// a child arrives as an exit the supervisor ignores (the child's Down is
// what it acts on), and links every child, so that the supervisor's death
// takes its children down.
func (s *supervisor) Init(ctx *Context, args Message) error {
	spec, err := s.init(ctx, args)
	if err != nil {
		return err
	}
	if err := s.configure(spec); err != nil {
		return err
	}
	ctx.TrapExit(true)
	for _, c := range s.children {
		if err := s.start(ctx, c); err != nil {
			s.terminateAll(ctx)
			return errors.New("supervisor: cannot start child " + strconv.Quote(c.spec.Name) + ": " + err.Error())
		}
	}
	return nil
}

// configure checks the spec, applies its defaults and encodes the
// children's arguments.
func (s *supervisor) configure(spec SupervisorSpec) error {
	if spec.Strategy > RestForOne {
		return errors.New("supervisor: unknown strategy " + strconv.Itoa(int(spec.Strategy)))
	}
	s.strategy, s.max, s.period = spec.Strategy, spec.MaxRestarts, spec.Period
	if s.max == 0 {
		s.max = DefaultMaxRestarts
	}
	if s.max < 0 {
		s.max = 0
	}
	if s.period <= 0 {
		s.period = DefaultPeriod
	}
	seen := make(map[string]bool, len(spec.Children))
	for _, cs := range spec.Children {
		name := strconv.Quote(cs.Name)
		switch {
		case cs.Name == "" || len(cs.Name) > maxFactoryName:
			return errors.New("supervisor: child name " + name + " must be 1 to 128 bytes")
		case seen[cs.Name]:
			return errors.New("supervisor: two children named " + name)
		case cs.Factory == "":
			return errors.New("supervisor: child " + name + " has no factory")
		case cs.Restart > Permanent:
			return errors.New("supervisor: child " + name + " has an unknown restart type")
		}
		seen[cs.Name] = true
		cfg := spawnOptions(cs.Options)
		c := &child{spec: cs, request: cfg.node != "" || cfg.supervised}
		if cs.Args != nil {
			b, err := encMode.Marshal(cs.Args)
			if err != nil {
				return errors.New("supervisor: child " + name + ": cannot encode its args: " + err.Error())
			}
			c.args = b
		}
		s.children = append(s.children, c)
	}
	return nil
}

// start spawns c linked to the supervisor and monitored by it, both in
// place before the child runs; a child that dies at once still gives its
// real reason.
func (s *supervisor) start(ctx *Context, c *child) error {
	opts := make([]SpawnOption, 0, 1+len(c.spec.Options))
	opts = append(opts, c.spec.Options...)
	opts = append(opts, SpawnLink)
	if c.request {
		c.gen++
		gen := c.gen
		then := func(ctx *Context, pid PID, mon Ref, err error) { s.spawned(ctx, c, gen, pid, mon, err) }
		if err := ctx.SpawnRequestRaw(c.spec.Factory, c.args, then, append(opts, SpawnMonitor)...); err != nil {
			return err
		}
		c.starting = true
		c.count()
		return nil
	}
	var args any // nil for none; RawMessage passes the encoded args as they are
	if c.args != nil {
		args = cbor.RawMessage(c.args)
	}
	pid, mon, err := ctx.SpawnMonitor(c.spec.Factory, args, opts...)
	if err != nil {
		return err
	}
	c.pid, c.mon = pid, mon
	c.count()
	return nil
}

// count counts a start of c.
func (c *child) count() {
	if c.started {
		c.restarts++
	}
	c.started = true
}

// spawned continues the spawn request of start number gen of c.
func (s *supervisor) spawned(ctx *Context, c *child, gen uint64, pid PID, mon Ref, err error) {
	if gen != c.gen || !c.starting {
		// The supervisor stopped this start meanwhile (a restart of
		// its siblings): the child it made goes too.
		if err == nil {
			ctx.Demonitor(mon)
			ctx.Unlink(pid)
			_ = ctx.Kill(pid, "killed")
		}
		return
	}
	c.starting = false
	if err != nil {
		ctx.Log(LevelWarn, "supervisor: start failed", "child", c.spec.Name, "err", err)
		s.restart(ctx, c, "cannot start: "+err.Error())
		return
	}
	c.pid, c.mon = pid, mon
}

// terminate stops a running child: no Down or exit of it reaches the
// supervisor afterwards, and the outcome of a start in flight stops the
// child it made. The reason is "killed", which is abnormal: links carry
// it on, so a child that is itself a supervisor takes its own children
// down too ("shutdown" would leave them running, see docs/RATIONALE.md).
func (s *supervisor) terminate(ctx *Context, c *child) {
	if c.starting {
		c.starting = false
		c.gen++
		return
	}
	if !c.running() {
		return
	}
	ctx.Demonitor(c.mon)
	ctx.Unlink(c.pid)
	_ = ctx.Kill(c.pid, "killed") // an error means it is gone already
	c.pid, c.mon = PID{}, 0
}

// terminateAll stops every running child, the last started first.
func (s *supervisor) terminateAll(ctx *Context) {
	for i := len(s.children) - 1; i >= 0; i-- {
		s.terminate(ctx, s.children[i])
	}
}

// HandleDown learns that a child stopped, and restarts what the child's
// restart type and the strategy say.
func (s *supervisor) HandleDown(ctx *Context, d Down) {
	c := s.byMonitor(d.Ref)
	if c == nil {
		return // a child terminated by the supervisor itself, or no child
	}
	c.pid, c.mon = PID{}, 0
	switch c.spec.Restart {
	case Temporary:
		return
	case Transient:
		if d.Reason == "normal" || d.Reason == "shutdown" {
			return
		}
	}
	s.restart(ctx, c, d.Reason)
}

// HandleExit follows the supervisor's parent: when it stops abnormally,
// the supervisor stops its children and then itself with the same reason,
// as an OTP supervisor does. Exits of children are ignored: their Downs
// carry the same news.
func (s *supervisor) HandleExit(ctx *Context, e Exit) {
	if e.PID != ctx.Parent() || e.PID.IsZero() {
		return
	}
	s.terminateAll(ctx)
	ctx.Stop(e.Reason)
}

// restart restarts c, and the running siblings the strategy takes along,
// counting one restart against the intensity. A child that fails to spawn
// is restarted again the same way, counting another restart.
func (s *supervisor) restart(ctx *Context, c *child, reason string) {
	c.due = true
	for {
		if !s.allowRestart() {
			ctx.Log(LevelError, "supervisor: giving up", "child", c.spec.Name, "reason", reason,
				"max_restarts", s.max, "period", s.period.String())
			s.terminateAll(ctx)
			ctx.Stop(ReasonRestartIntensity)
			return
		}
		at := s.index(c)
		for i := len(s.children) - 1; i >= 0; i-- {
			g := s.children[i]
			if g.running() && (s.strategy == OneForAll || s.strategy == RestForOne && i > at) {
				s.terminate(ctx, g)
				g.due = g.spec.Restart != Temporary // stopped with the others, never restarted
			}
		}
		var failed *child
		for _, g := range s.children {
			if !g.due {
				continue
			}
			if err := s.start(ctx, g); err != nil {
				failed, reason = g, err.Error()
				break
			}
			g.due = false
		}
		if failed == nil {
			return
		}
		ctx.Log(LevelWarn, "supervisor: restart failed", "child", failed.spec.Name, "err", reason)
		c = failed
	}
}

func (s *supervisor) index(c *child) int {
	for i, g := range s.children {
		if g == c {
			return i
		}
	}
	return -1
}

// allowRestart records a restart now and reports whether the intensity
// allows it: at most max restarts within the period ending now.
func (s *supervisor) allowRestart() bool {
	now := s.now()
	keep := 0
	for keep < len(s.restarts) && now.Sub(s.restarts[keep]) >= s.period {
		keep++
	}
	s.restarts = append(s.restarts[:0], s.restarts[keep:]...)
	if len(s.restarts) >= s.max {
		return false
	}
	s.restarts = append(s.restarts, now)
	return true
}

func (s *supervisor) byMonitor(ref Ref) *child {
	for _, c := range s.children {
		if !c.pid.IsZero() && c.mon == ref {
			return c
		}
	}
	return nil
}

// Receive answers [SupervisorRequest] asks; anything else is logged and
// ignored.
func (s *supervisor) Receive(ctx *Context, msg Message) {
	var req SupervisorRequest
	if err := msg.Decode(&req); err != nil || req.Op != OpWhichChildren {
		ctx.Log(LevelWarn, "supervisor: unknown request", "op", req.Op, "err", err)
		if msg.IsAsk() {
			_ = ctx.Reply(SupervisorReply{Err: "supervisor: unknown request " + strconv.Quote(req.Op)})
		}
		return
	}
	if !msg.IsAsk() {
		return
	}
	out := make([]ChildInfo, len(s.children))
	for i, c := range s.children {
		out[i] = ChildInfo{Name: c.spec.Name, PID: c.pid, Restarts: c.restarts}
	}
	_ = ctx.Reply(SupervisorReply{Children: out})
}
