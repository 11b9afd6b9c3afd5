package actor

// abiVersion is the only version of docs/abi.md this SDK speaks.
const abiVersion = 1

// hostCalls is the set of ABI imports (docs/abi.md, module "wasmactor"),
// as the runtime uses them. On wasip1 the runtime holds the concrete import
// table (hostAPI is wasmHost there), so requests compile to direct, inlinable
// calls; a Go wasm guest pays for every call. Elsewhere hostAPI is this
// interface, filled by a stub answering ErrNotInGuest or, in tests, a fake
// host: that is what lets the dispatch logic be tested natively.
//
// Every slice argument is only read during the call (the host copies), so
// callers reuse their buffers.
type hostCalls interface {
	selfNode() uint64
	send(actor uint64, to PID, msg []byte) uint32
	// sendBatch performs the send_batch entries in buf: the number of
	// entries refused (each with its status set in buf), or -code for a
	// batch refused whole.
	sendBatch(actor uint64, buf []byte) int64
	ask(actor uint64, to PID, ref uint64, timeoutMS uint32, msg []byte) uint32
	reply(actor uint64, to PID, ref uint64, msg []byte) uint32
	spawn(actor uint64, name string, args []byte, flags uint32) (PID, uint64, uint32)
	spawnRequest(actor, ref uint64, name string, args []byte, node string, flags uint32, r restart) uint32
	stop(actor uint64, reason string)
	kill(actor uint64, to PID, reason string) uint32
	// monitor returns 0 (never a ref) for a refusal: LIMIT.
	monitor(actor uint64, to PID) uint64
	demonitor(actor, ref uint64)
	link(actor uint64, to PID) uint32
	unlink(actor uint64, to PID)
	trapExit(actor uint64, on bool)
	register(actor uint64, name string) uint32
	unregister(actor uint64, name string)
	whereis(name string) (PID, uint32)
	// sendAfter returns the timer's id for cancelTimer.
	sendAfter(actor uint64, to PID, delayMS uint32, msg []byte) (uint64, uint32)
	cancelTimer(actor, timer uint64) uint32
	log(actor uint64, level Level, msg []byte)
	fail(reason string)
	migrate(actor uint64, node string) uint32
	monitorNode(actor uint64, node string) (uint64, uint32)
	joinGroup(actor uint64, group string) uint32
	leaveGroup(actor uint64, group string) uint32
	// groupMembers writes up to len(dst) members into dst and returns how
	// many the group has.
	groupMembers(group string, dst []PID) (int, uint32)
	sendGroup(actor uint64, group string, msg []byte) (sent, refused uint32, code uint32)
	monitorGroup(actor uint64, group string) (uint64, uint32)
}

// restart is spawn_request's restart policy arguments.
type restart struct {
	policy, maxRestarts, periodMS uint32
}
