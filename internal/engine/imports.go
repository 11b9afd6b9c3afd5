package engine

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"math"
	"runtime/debug"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/abi"
)

// Limits on the text a guest passes to imports, besides MaxMessageSize for
// payloads.
const (
	maxNameBytes   = 255  // register, unregister, whereis, the group imports
	maxReasonBytes = 1024 // stop, kill, fail
	maxLogBytes    = 4096 // log; longer lines are cut
)

// The host functions of module "wasmactor", in abi.md order. Each gets the
// calling instance (found through the call's context) and wazero's stack:
// parameters in, results out. Every pointer and length is checked against
// the guest's memory, and every byte handed to the Host is a copy.
var imports = []importDef{
	{"self_node", nil, []api.ValueType{i64}, importSelfNode},
	{"send", []api.ValueType{i64, i64, i64, i32, i32}, []api.ValueType{i32}, importSend},
	{"send_batch", []api.ValueType{i64, i32, i32}, []api.ValueType{i64}, importSendBatch},
	{"ask", []api.ValueType{i64, i64, i64, i64, i32, i32, i32}, []api.ValueType{i32}, importAsk},
	{"reply", []api.ValueType{i64, i64, i64, i64, i32, i32}, []api.ValueType{i32}, importReply},
	{"spawn", []api.ValueType{i64, i32, i32, i32, i32, i32, i32}, []api.ValueType{i32}, importSpawn},
	{"stop", []api.ValueType{i64, i32, i32}, nil, importStop},
	{"kill", []api.ValueType{i64, i64, i64, i32, i32}, []api.ValueType{i32}, importKill},
	{"monitor", []api.ValueType{i64, i64, i64}, []api.ValueType{i64}, importMonitor},
	{"demonitor", []api.ValueType{i64, i64}, nil, importDemonitor},
	{"link", []api.ValueType{i64, i64, i64}, []api.ValueType{i32}, importLink},
	{"unlink", []api.ValueType{i64, i64, i64}, nil, importUnlink},
	{"trap_exit", []api.ValueType{i64, i32}, nil, importTrapExit},
	{"register", []api.ValueType{i64, i32, i32}, []api.ValueType{i32}, actorNameImport(Host.Register)},
	{"unregister", []api.ValueType{i64, i32, i32}, nil, importUnregister},
	{"whereis", []api.ValueType{i32, i32, i32}, []api.ValueType{i32}, importWhereis},
	{"send_after", []api.ValueType{i64, i64, i64, i32, i32, i32}, []api.ValueType{i32}, importSendAfter},
	{"send_timer", []api.ValueType{i64, i64, i64, i32, i32, i32, i32}, []api.ValueType{i32}, importSendTimer},
	{"cancel_timer", []api.ValueType{i64, i64}, []api.ValueType{i32}, importCancelTimer},
	{"log", []api.ValueType{i64, i32, i32, i32}, nil, importLog},
	{"fail", []api.ValueType{i32, i32}, nil, importFail},
	{"monitor_node", []api.ValueType{i64, i32, i32, i32}, []api.ValueType{i32}, importMonitorNode},
	{"join_group", []api.ValueType{i64, i32, i32}, []api.ValueType{i32}, actorNameImport(Host.JoinGroup)},
	{"leave_group", []api.ValueType{i64, i32, i32}, []api.ValueType{i32}, actorNameImport(Host.LeaveGroup)},
	{"group_members", []api.ValueType{i32, i32, i32, i32, i32}, []api.ValueType{i32}, importGroupMembers},
	{"send_group", []api.ValueType{i64, i32, i32, i32, i32, i32}, []api.ValueType{i32}, importSendGroup},
	{"monitor_group", []api.ValueType{i64, i32, i32, i32}, []api.ValueType{i32}, importMonitorGroup},
	{"spawn_request", []api.ValueType{i64, i64, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32}, []api.ValueType{i32}, importSpawnRequest},
	{"migrate", []api.ValueType{i64, i32, i32}, []api.ValueType{i32}, actorNameImport(Host.Migrate)},
}

// instKey is the context key under which an instance's call context answers
// with the *Instance.
type instKey struct{}

// wrapImport adapts an import to wazero's stack-based API. Outside
// wasmactor_deliver (during _initialize, wasmactor_factories and
// wasmactor_snapshot, and in the probe instance Compile runs) imports do
// nothing: those returning an error code return BAD_ARGUMENT, monitor
// returns 0 (never a valid ref), self_node answers, fail is recorded, log
// goes to the engine's logger, and the other void imports are ignored.
func wrapImport(imp importDef) api.GoModuleFunc {
	fn, results := imp.fn, imp.results
	always := imp.name == "self_node" || imp.name == "log" || imp.name == "fail"
	// What the import answers outside wasmactor_deliver: BAD_ARGUMENT for
	// an error code, a whole-batch refusal for send_batch (0 would mean
	// "all sent"), 0 otherwise.
	var refusal uint64
	if len(results) == 1 && results[0] == i32 {
		refusal = uint64(abi.BadArgument)
	}
	if imp.name == "send_batch" {
		refusal = batchRefused(abi.BadArgument)
	}
	return func(ctx context.Context, m api.Module, stack []uint64) {
		i, _ := ctx.Value(instKey{}).(*Instance)
		if i == nil {
			panic("engine: wasmactor import called outside an engine call")
		}
		if !i.inDeliver && !always {
			if len(results) == 1 {
				stack[0] = refusal
			}
			return
		}
		defer i.recoverHost()
		fn(i, m, stack)
	}
}

// recoverHost turns a Go panic in a Host callback into the instance's
// failure: it records the value and re-panics with it so that wazero unwinds
// the guest and the call returns an error.
func (i *Instance) recoverHost() {
	r := recover()
	if r == nil {
		return
	}
	if i.hostPanic == "" {
		i.hostPanic = fmt.Sprint(r)
		i.e.cfg.Logger.Error("panic in a host callback", "module", i.m.prefix, "instance", i.id,
			"panic", i.hostPanic, "stack", string(debug.Stack()))
	}
	panic(r)
}

// read copies n bytes at ptr out of guest memory. It reports BAD_ARGUMENT
// for a range outside memory and TOO_LARGE for more than limit bytes.
func (i *Instance) read(m api.Module, ptr, n uint32, limit int) ([]byte, abi.Errno) {
	if uint64(n) > uint64(limit) {
		return nil, abi.TooLarge
	}
	v, ok := m.Memory().Read(ptr, n)
	if !ok {
		return nil, abi.BadArgument
	}
	if n == 0 {
		return nil, abi.OK
	}
	return append([]byte(nil), v...), abi.OK
}

// readString is read for text, which must also be valid UTF-8.
func (i *Instance) readString(m api.Module, ptr, n uint32, limit int) (string, abi.Errno) {
	if uint64(n) > uint64(limit) {
		return "", abi.TooLarge
	}
	v, ok := m.Memory().Read(ptr, n)
	if !ok || !utf8.Valid(v) {
		return "", abi.BadArgument
	}
	return string(v), abi.OK
}

// writePID writes a PID at ptr (16 bytes).
func writePID(m api.Module, ptr uint32, p abi.PID) bool {
	mem := m.Memory()
	return mem.WriteUint64Le(ptr, p.Incarnation) && mem.WriteUint64Le(ptr+8, p.Serial)
}

// pidIn reports whether a 16-byte PID fits at ptr.
func pidIn(m api.Module, ptr uint32) bool { return fits(m, ptr, 16) }

// fits reports whether n bytes at ptr are inside guest memory.
func fits(m api.Module, ptr, n uint32) bool {
	_, ok := m.Memory().Read(ptr, n)
	return ok
}

func pidArg(stack []uint64, at int) abi.PID {
	return abi.PID{Incarnation: stack[at], Serial: stack[at+1]}
}

func u32(v uint64) uint32 { return uint32(v) }

func importSelfNode(i *Instance, _ api.Module, stack []uint64) {
	stack[0] = 0
	if i.host != nil {
		stack[0] = i.host.SelfNode()
	}
}

func importSend(i *Instance, m api.Module, stack []uint64) {
	msg, code := i.read(m, u32(stack[3]), u32(stack[4]), i.e.cfg.MaxMessageSize)
	if code == abi.OK {
		code = i.host.Send(stack[0], pidArg(stack, 1), msg)
	}
	stack[0] = uint64(code)
}

// send_batch entries (docs/abi.md, "Batched sends"): a 32-byte header,
// then the payload, the whole padded to a multiple of 8.
const (
	SendEntryHeader = 32
	sendStatusAt    = 4 // u16, written by the host for a refused entry
)

// batchRefused is send_batch's result for a batch refused as a whole.
func batchRefused(e abi.Errno) uint64 { return uint64(-int64(e)) }

// send_batch(actor, ptr, len) -> i64: the sends of entries at ptr, in
// order. The layout is checked whole before anything is sent, so a
// malformed batch sends nothing; each payload is then copied and handed to
// Host.SendBatch. The result is the number of entries refused, whose
// status field the host sets, or -code for a batch refused as a whole.
func importSendBatch(i *Instance, m api.Module, stack []uint64) {
	actor, ptr, n := stack[0], u32(stack[1]), u32(stack[2])
	buf, ok := m.Memory().Read(ptr, n)
	if !ok {
		stack[0] = batchRefused(abi.BadArgument)
		return
	}
	le := binary.LittleEndian
	sends := i.sends[:0]
	for off := 0; off < len(buf); {
		rest := buf[off:]
		if len(rest) < SendEntryHeader {
			stack[0] = batchRefused(abi.BadArgument)
			return
		}
		size, plen := le.Uint32(rest), le.Uint32(rest[24:])
		if size < SendEntryHeader || size%8 != 0 || uint64(size) > uint64(len(rest)) || plen > size-SendEntryHeader {
			stack[0] = batchRefused(abi.BadArgument)
			return
		}
		sends = append(sends, Outgoing{
			To:  abi.PID{Incarnation: le.Uint64(rest[8:]), Serial: le.Uint64(rest[16:])},
			Msg: rest[SendEntryHeader : SendEntryHeader+plen],
			at:  uint32(off),
		})
		off += int(size)
	}
	// Copies, now that the layout holds: the host keeps each message, and
	// a view of guest memory may be overwritten or moved by memory.grow.
	for k := range sends {
		s := &sends[k]
		switch {
		case len(s.Msg) > i.e.cfg.MaxMessageSize:
			s.Msg, s.Code = nil, abi.TooLarge
		case len(s.Msg) == 0:
			s.Msg = nil
		default:
			s.Msg = append([]byte(nil), s.Msg...)
		}
	}
	i.sends = sends
	defer func() { clear(sends); i.sends = sends[:0] }() // drop the payloads
	if e := i.host.SendBatch(actor, sends); e != abi.OK {
		stack[0] = batchRefused(e)
		return
	}
	var refused uint64
	mem := m.Memory()
	for k := range sends {
		if s := &sends[k]; s.Code != abi.OK {
			mem.WriteUint16Le(ptr+s.at+sendStatusAt, uint16(s.Code)) // in range: read above
			refused++
		}
	}
	stack[0] = refused
}

func importAsk(i *Instance, m api.Module, stack []uint64) {
	msg, code := i.read(m, u32(stack[5]), u32(stack[6]), i.e.cfg.MaxMessageSize)
	if code == abi.OK {
		timeout := time.Duration(u32(stack[4])) * time.Millisecond // 0: the node's default
		code = i.host.Ask(stack[0], pidArg(stack, 1), stack[3], timeout, msg)
	}
	stack[0] = uint64(code)
}

func importReply(i *Instance, m api.Module, stack []uint64) {
	msg, code := i.read(m, u32(stack[4]), u32(stack[5]), i.e.cfg.MaxMessageSize)
	if code == abi.OK {
		code = i.host.Reply(stack[0], pidArg(stack, 1), stack[3], msg)
	}
	stack[0] = uint64(code)
}

func importSpawn(i *Instance, m api.Module, stack []uint64) {
	actor, flags, out := stack[0], abi.SpawnFlags(u32(stack[5])), u32(stack[6])
	outSize := uint32(16)
	if flags&abi.SpawnMonitor != 0 {
		outSize = 24 // the PID, then the monitor ref
	}
	name, code := i.readString(m, u32(stack[1]), u32(stack[2]), MaxFactoryName)
	if code == abi.TooLarge || code == abi.OK && !validFactoryRef(name) || flags&^abi.KnownSpawnFlags != 0 || !fits(m, out, outSize) {
		code = abi.BadArgument
	}
	var args []byte
	if code == abi.OK {
		args, code = i.read(m, u32(stack[3]), u32(stack[4]), i.e.cfg.MaxMessageSize)
	}
	if code == abi.OK {
		var pid abi.PID
		var ref uint64
		if pid, ref, code = i.host.Spawn(actor, name, args, flags); code == abi.OK {
			writePID(m, out, pid)
			if flags&abi.SpawnMonitor != 0 {
				m.Memory().WriteUint64Le(out+16, ref)
			}
		}
	}
	stack[0] = uint64(code)
}

// spawn_request(actor, ref, name_ptr, name_len, args_ptr, args_len,
// node_ptr, node_len, flags, policy, max_restarts, period_ms)
func importSpawnRequest(i *Instance, m api.Module, stack []uint64) {
	r := SpawnRequest{Ref: stack[1], Flags: abi.SpawnFlags(u32(stack[8]))}
	policy, maxRestarts, periodMS := abi.RestartPolicy(u32(stack[9])), u32(stack[10]), u32(stack[11])
	name, code := i.readString(m, u32(stack[2]), u32(stack[3]), MaxFactoryName)
	if code == abi.TooLarge || code == abi.OK && !validFactoryRef(name) || r.Flags&^abi.KnownSpawnFlags != 0 ||
		policy > abi.RestartPermanent || maxRestarts > math.MaxInt32 {
		code = abi.BadArgument
	}
	r.Factory = name
	if code == abi.OK && u32(stack[7]) > 0 {
		r.Node, code = i.readString(m, u32(stack[6]), u32(stack[7]), maxNodeName)
		if code == abi.TooLarge || code == abi.OK && !validNodeName(r.Node) {
			code = abi.BadArgument
		}
	}
	if code == abi.OK {
		r.Args, code = i.read(m, u32(stack[4]), u32(stack[5]), i.e.cfg.MaxMessageSize)
	}
	if code == abi.OK {
		r.Restart = wasmactor.Restart{Policy: wasmactor.RestartPolicy(policy), MaxRestarts: int(maxRestarts),
			Period: time.Duration(periodMS) * time.Millisecond}
		code = i.host.SpawnRequest(stack[0], r)
	}
	stack[0] = uint64(code)
}

// maxNodeName is the longest node name (host.Config.Name).
const maxNodeName = 128

// validNodeName checks a node name's syntax: 1..128 bytes of
// [A-Za-z0-9_-], as host.Config.Name requires.
func validNodeName(s string) bool {
	if len(s) == 0 || len(s) > maxNodeName {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// reason reads a stop reason, empty meaning def.
func (i *Instance) reason(m api.Module, ptr, n uint32, def string) (string, abi.Errno) {
	if n == 0 {
		return def, abi.OK
	}
	r, code := i.readString(m, ptr, n, maxReasonBytes)
	if code == abi.TooLarge {
		code = abi.BadArgument
	}
	return r, code
}

func importStop(i *Instance, m api.Module, stack []uint64) {
	reason, code := i.reason(m, u32(stack[1]), u32(stack[2]), wasmactor.ReasonNormal)
	if code != abi.OK {
		// The guest has dropped the actor already, so stop it anyway rather
		// than leave host and guest disagreeing about whether it lives.
		reason = "bad_argument"
	}
	i.host.Stop(stack[0], reason)
}

func importKill(i *Instance, m api.Module, stack []uint64) {
	reason, code := i.reason(m, u32(stack[3]), u32(stack[4]), wasmactor.ReasonKilled)
	if code == abi.OK {
		code = i.host.Kill(stack[0], pidArg(stack, 1), reason)
	}
	stack[0] = uint64(code)
}

func importMonitor(i *Instance, _ api.Module, stack []uint64) {
	stack[0] = i.host.Monitor(stack[0], pidArg(stack, 1))
}

func importDemonitor(i *Instance, _ api.Module, stack []uint64) {
	i.host.Demonitor(stack[0], stack[1])
}

func importLink(i *Instance, _ api.Module, stack []uint64) {
	stack[0] = uint64(i.host.Link(stack[0], pidArg(stack, 1)))
}

func importUnlink(i *Instance, _ api.Module, stack []uint64) {
	i.host.Unlink(stack[0], pidArg(stack, 1))
}

func importTrapExit(i *Instance, _ api.Module, stack []uint64) {
	i.host.TrapExit(stack[0], u32(stack[1]) != 0)
}

// name reads an actor name: 1..255 bytes of UTF-8.
func (i *Instance) name(m api.Module, ptr, n uint32) (string, abi.Errno) {
	if n == 0 || n > maxNameBytes {
		return "", abi.BadArgument
	}
	return i.readString(m, ptr, n, maxNameBytes)
}

// actorNameImport is an import (actor i64, name_ptr i32, name_len i32) ->
// i32 that passes a name to call: register, join_group, leave_group.
func actorNameImport(call func(h Host, actor uint64, name string) abi.Errno) func(*Instance, api.Module, []uint64) {
	return func(i *Instance, m api.Module, stack []uint64) {
		name, code := i.name(m, u32(stack[1]), u32(stack[2]))
		if code == abi.OK {
			code = call(i.host, stack[0], name)
		}
		stack[0] = uint64(code)
	}
}

func importUnregister(i *Instance, m api.Module, stack []uint64) {
	if name, code := i.name(m, u32(stack[1]), u32(stack[2])); code == abi.OK {
		i.host.Unregister(stack[0], name)
	}
}

func importWhereis(i *Instance, m api.Module, stack []uint64) {
	name, code := i.name(m, u32(stack[0]), u32(stack[1]))
	out := u32(stack[2])
	if code == abi.OK && !pidIn(m, out) {
		code = abi.BadArgument
	}
	if code == abi.OK {
		var pid abi.PID
		if pid, code = i.host.Whereis(name); code == abi.OK {
			writePID(m, out, pid)
		}
	}
	stack[0] = uint64(code)
}

// importSendAfter is send_timer without the timer's id, for guests built
// before send_timer existed.
func importSendAfter(i *Instance, m api.Module, stack []uint64) {
	msg, code := i.read(m, u32(stack[4]), u32(stack[5]), i.e.cfg.MaxMessageSize)
	if code == abi.OK {
		delay := time.Duration(u32(stack[3])) * time.Millisecond
		_, code = i.host.SendAfter(stack[0], pidArg(stack, 1), delay, msg)
	}
	stack[0] = uint64(code)
}

// send_timer(actor, to_inc, to_serial, delay_ms, ptr, len, out_ptr): the
// timer's id (u64) at out_ptr.
func importSendTimer(i *Instance, m api.Module, stack []uint64) {
	out := u32(stack[6])
	msg, code := i.read(m, u32(stack[4]), u32(stack[5]), i.e.cfg.MaxMessageSize)
	if code == abi.OK && !fits(m, out, 8) {
		code = abi.BadArgument
	}
	if code == abi.OK {
		delay := time.Duration(u32(stack[3])) * time.Millisecond
		var timer uint64
		if timer, code = i.host.SendAfter(stack[0], pidArg(stack, 1), delay, msg); code == abi.OK {
			writeRef(m, out, timer)
		}
	}
	stack[0] = uint64(code)
}

func importCancelTimer(i *Instance, _ api.Module, stack []uint64) {
	stack[0] = uint64(i.host.CancelTimer(stack[0], stack[1]))
}

// writeRef writes a u64 ref at ptr, checked with fits beforehand.
func writeRef(m api.Module, ptr uint32, ref uint64) { m.Memory().WriteUint64Le(ptr, ref) }

func importMonitorNode(i *Instance, m api.Module, stack []uint64) {
	out := u32(stack[3])
	node, code := i.readString(m, u32(stack[1]), u32(stack[2]), maxNodeName)
	if code == abi.TooLarge || code == abi.OK && !validNodeName(node) || !fits(m, out, 8) {
		code = abi.BadArgument
	}
	if code == abi.OK {
		var ref uint64
		if ref, code = i.host.MonitorNode(stack[0], node); code == abi.OK {
			writeRef(m, out, ref)
		}
	}
	stack[0] = uint64(code)
}

// group_members(name_ptr, name_len, out_ptr, max, count_ptr): up to max
// PIDs at out_ptr, the number of members (u32) at count_ptr.
func importGroupMembers(i *Instance, m api.Module, stack []uint64) {
	out, maxN, countPtr := u32(stack[2]), u32(stack[3]), u32(stack[4])
	group, code := i.name(m, u32(stack[0]), u32(stack[1]))
	if code == abi.OK && (uint64(maxN)*16 > math.MaxUint32 || !fits(m, out, maxN*16) || !fits(m, countPtr, 4)) {
		code = abi.BadArgument
	}
	if code == abi.OK {
		var members []abi.PID
		if members, code = i.host.GroupMembers(group); code == abi.OK {
			for k, p := range members[:min(len(members), int(maxN))] {
				writePID(m, out+uint32(k)*16, p)
			}
			m.Memory().WriteUint32Le(countPtr, uint32(min(len(members), math.MaxUint32)))
		}
	}
	stack[0] = uint64(code)
}

// send_group(actor, name_ptr, name_len, ptr, len, out_ptr): two u32 at
// out_ptr, the members the message was queued for and those that refused it.
func importSendGroup(i *Instance, m api.Module, stack []uint64) {
	out := u32(stack[5])
	group, code := i.name(m, u32(stack[1]), u32(stack[2]))
	if code == abi.OK && !fits(m, out, 8) {
		code = abi.BadArgument
	}
	var msg []byte
	if code == abi.OK {
		msg, code = i.read(m, u32(stack[3]), u32(stack[4]), i.e.cfg.MaxMessageSize)
	}
	if code == abi.OK {
		var sent, refused uint32
		if sent, refused, code = i.host.SendGroup(stack[0], group, msg); code == abi.OK {
			m.Memory().WriteUint32Le(out, sent)
			m.Memory().WriteUint32Le(out+4, refused)
		}
	}
	stack[0] = uint64(code)
}

func importMonitorGroup(i *Instance, m api.Module, stack []uint64) {
	out := u32(stack[3])
	group, code := i.name(m, u32(stack[1]), u32(stack[2]))
	if code == abi.OK && !fits(m, out, 8) {
		code = abi.BadArgument
	}
	if code == abi.OK {
		var ref uint64
		if ref, code = i.host.MonitorGroup(stack[0], group); code == abi.OK {
			writeRef(m, out, ref)
		}
	}
	stack[0] = uint64(code)
}

func logLevel(l uint32) slog.Level {
	switch abi.LogLevel(l) {
	case abi.LogDebug:
		return slog.LevelDebug
	case abi.LogInfo:
		return slog.LevelInfo
	case abi.LogWarn:
		return slog.LevelWarn
	}
	return slog.LevelError
}

func importLog(i *Instance, m api.Module, stack []uint64) {
	actor, level, ptr, n := stack[0], logLevel(u32(stack[1])), u32(stack[2]), u32(stack[3])
	v, ok := m.Memory().Read(ptr, n)
	if !ok {
		return // nowhere to report it; the line is lost
	}
	if len(v) > maxLogBytes {
		v = v[:maxLogBytes]
	}
	msg := string(v)
	if !i.inDeliver || i.host == nil {
		i.e.cfg.Logger.Log(context.Background(), level, msg,
			"module", i.m.prefix, "instance", i.id, "actor", actor, "outside_deliver", true)
		return
	}
	i.host.Log(actor, level, msg)
}

func importFail(i *Instance, m api.Module, stack []uint64) {
	i.failCalled = true
	// Cut to maxReasonBytes and mend, rather than refuse: the guest is dying,
	// and whatever it managed to say is the best reason there is.
	if v, ok := m.Memory().Read(u32(stack[0]), min(u32(stack[1]), maxReasonBytes)); ok {
		i.failMsg = strings.ToValidUTF8(string(v), "\uFFFD")
	}
}
