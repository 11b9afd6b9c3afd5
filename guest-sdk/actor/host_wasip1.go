//go:build wasip1

package actor

import "unsafe"

// The wasmactor import table, exactly as docs/abi.md lists it. Pointers are
// passed as unsafe.Pointer (an i32 on wasm32); the host copies what it reads
// before returning, so Go's garbage collector need not pin anything beyond
// the call.

//go:wasmimport wasmactor self_node
func importSelfNode() uint64

//go:wasmimport wasmactor send
func importSend(actor, toInc, toSerial uint64, ptr unsafe.Pointer, n uint32) uint32

//go:wasmimport wasmactor send_batch
func importSendBatch(actor uint64, ptr unsafe.Pointer, n uint32) int64

//go:wasmimport wasmactor ask
func importAsk(actor, toInc, toSerial, ref uint64, timeoutMS uint32, ptr unsafe.Pointer, n uint32) uint32

//go:wasmimport wasmactor reply
func importReply(actor, toInc, toSerial, ref uint64, ptr unsafe.Pointer, n uint32) uint32

//go:wasmimport wasmactor spawn
func importSpawn(actor uint64, namePtr unsafe.Pointer, nameLen uint32, argsPtr unsafe.Pointer, argsLen uint32, flags uint32, out unsafe.Pointer) uint32

//go:wasmimport wasmactor stop
func importStop(actor uint64, ptr unsafe.Pointer, n uint32)

//go:wasmimport wasmactor kill
func importKill(actor, toInc, toSerial uint64, ptr unsafe.Pointer, n uint32) uint32

//go:wasmimport wasmactor monitor
func importMonitor(actor, toInc, toSerial uint64) uint64

//go:wasmimport wasmactor demonitor
func importDemonitor(actor, ref uint64)

//go:wasmimport wasmactor link
func importLink(actor, toInc, toSerial uint64) uint32

//go:wasmimport wasmactor unlink
func importUnlink(actor, toInc, toSerial uint64)

//go:wasmimport wasmactor trap_exit
func importTrapExit(actor uint64, on uint32)

//go:wasmimport wasmactor migrate
func importMigrate(actor uint64, ptr unsafe.Pointer, n uint32) uint32

//go:wasmimport wasmactor register
func importRegister(actor uint64, ptr unsafe.Pointer, n uint32) uint32

//go:wasmimport wasmactor unregister
func importUnregister(actor uint64, ptr unsafe.Pointer, n uint32)

//go:wasmimport wasmactor whereis
func importWhereis(ptr unsafe.Pointer, n uint32, out unsafe.Pointer) uint32

//go:wasmimport wasmactor send_timer
func importSendTimer(actor, toInc, toSerial uint64, delayMS uint32, ptr unsafe.Pointer, n uint32, out unsafe.Pointer) uint32

//go:wasmimport wasmactor cancel_timer
func importCancelTimer(actor, timer uint64) uint32

//go:wasmimport wasmactor log
func importLog(actor uint64, level uint32, ptr unsafe.Pointer, n uint32)

//go:wasmimport wasmactor fail
func importFail(ptr unsafe.Pointer, n uint32)

//go:wasmimport wasmactor monitor_node
func importMonitorNode(actor uint64, ptr unsafe.Pointer, n uint32, out unsafe.Pointer) uint32

//go:wasmimport wasmactor join_group
func importJoinGroup(actor uint64, ptr unsafe.Pointer, n uint32) uint32

//go:wasmimport wasmactor leave_group
func importLeaveGroup(actor uint64, ptr unsafe.Pointer, n uint32) uint32

//go:wasmimport wasmactor group_members
func importGroupMembers(ptr unsafe.Pointer, n uint32, out unsafe.Pointer, max uint32, count unsafe.Pointer) uint32

//go:wasmimport wasmactor send_group
func importSendGroup(actor uint64, namePtr unsafe.Pointer, nameLen uint32, ptr unsafe.Pointer, n uint32, out unsafe.Pointer) uint32

//go:wasmimport wasmactor monitor_group
func importMonitorGroup(actor uint64, ptr unsafe.Pointer, n uint32, out unsafe.Pointer) uint32

//go:wasmimport wasmactor spawn_request
func importSpawnRequest(actor, ref uint64, namePtr unsafe.Pointer, nameLen uint32, argsPtr unsafe.Pointer, argsLen uint32,
	nodePtr unsafe.Pointer, nodeLen uint32, flags, policy, maxRestarts, periodMS uint32) uint32

// pidOut receives what spawn, whereis and the other imports with an
// out_ptr write (a PID and a monitor ref at most; send_timer's timer id). A package-level array
// keeps it off the goroutine stack, which may move between calls.
var pidOut [3]uint64

// countOut receives group_members' count.
var countOut uint32

// hostAPI is the concrete import table in a guest: direct calls, no
// interface dispatch.
type hostAPI = wasmHost

var _ hostCalls = wasmHost{} // the same methods as the fake and the stub

func newHost() hostAPI { return wasmHost{} }

type wasmHost struct{}

func bytesPtr(b []byte) (unsafe.Pointer, uint32) {
	return unsafe.Pointer(unsafe.SliceData(b)), uint32(len(b))
}

func strPtr(s string) (unsafe.Pointer, uint32) {
	return unsafe.Pointer(unsafe.StringData(s)), uint32(len(s))
}

func (wasmHost) selfNode() uint64 { return importSelfNode() }

func (wasmHost) send(actor uint64, to PID, msg []byte) uint32 {
	p, n := bytesPtr(msg)
	return importSend(actor, to.Incarnation, to.Serial, p, n)
}

func (wasmHost) sendBatch(actor uint64, buf []byte) int64 {
	p, n := bytesPtr(buf)
	return importSendBatch(actor, p, n)
}

func (wasmHost) ask(actor uint64, to PID, ref uint64, timeoutMS uint32, msg []byte) uint32 {
	p, n := bytesPtr(msg)
	return importAsk(actor, to.Incarnation, to.Serial, ref, timeoutMS, p, n)
}

func (wasmHost) reply(actor uint64, to PID, ref uint64, msg []byte) uint32 {
	p, n := bytesPtr(msg)
	return importReply(actor, to.Incarnation, to.Serial, ref, p, n)
}

func (wasmHost) spawn(actor uint64, name string, args []byte, flags uint32) (PID, uint64, uint32) {
	np, nn := strPtr(name)
	ap, an := bytesPtr(args)
	pidOut = [3]uint64{}
	code := importSpawn(actor, np, nn, ap, an, flags, unsafe.Pointer(&pidOut))
	return PID{Incarnation: pidOut[0], Serial: pidOut[1]}, pidOut[2], code
}

func (wasmHost) spawnRequest(actor, ref uint64, name string, args []byte, node string, flags uint32, r restart) uint32 {
	np, nn := strPtr(name)
	ap, an := bytesPtr(args)
	dp, dn := strPtr(node)
	return importSpawnRequest(actor, ref, np, nn, ap, an, dp, dn, flags, r.policy, r.maxRestarts, r.periodMS)
}

func (wasmHost) stop(actor uint64, reason string) {
	p, n := strPtr(reason)
	importStop(actor, p, n)
}

func (wasmHost) kill(actor uint64, to PID, reason string) uint32 {
	p, n := strPtr(reason)
	return importKill(actor, to.Incarnation, to.Serial, p, n)
}

func (wasmHost) monitor(actor uint64, to PID) uint64 {
	return importMonitor(actor, to.Incarnation, to.Serial)
}

func (wasmHost) demonitor(actor, ref uint64) { importDemonitor(actor, ref) }

func (wasmHost) link(actor uint64, to PID) uint32 {
	return importLink(actor, to.Incarnation, to.Serial)
}

func (wasmHost) unlink(actor uint64, to PID) { importUnlink(actor, to.Incarnation, to.Serial) }

func (wasmHost) trapExit(actor uint64, on bool) {
	var v uint32
	if on {
		v = 1
	}
	importTrapExit(actor, v)
}

func (wasmHost) migrate(actor uint64, node string) uint32 {
	p, n := strPtr(node)
	return importMigrate(actor, p, n)
}

func (wasmHost) register(actor uint64, name string) uint32 {
	p, n := strPtr(name)
	return importRegister(actor, p, n)
}

func (wasmHost) unregister(actor uint64, name string) {
	p, n := strPtr(name)
	importUnregister(actor, p, n)
}

func (wasmHost) whereis(name string) (PID, uint32) {
	p, n := strPtr(name)
	pidOut = [3]uint64{}
	code := importWhereis(p, n, unsafe.Pointer(&pidOut))
	return PID{Incarnation: pidOut[0], Serial: pidOut[1]}, code
}

func (wasmHost) sendAfter(actor uint64, to PID, delayMS uint32, msg []byte) (uint64, uint32) {
	p, n := bytesPtr(msg)
	pidOut[0] = 0
	code := importSendTimer(actor, to.Incarnation, to.Serial, delayMS, p, n, unsafe.Pointer(&pidOut[0]))
	return pidOut[0], code
}

func (wasmHost) cancelTimer(actor, timer uint64) uint32 { return importCancelTimer(actor, timer) }

func (wasmHost) log(actor uint64, level Level, msg []byte) {
	p, n := bytesPtr(msg)
	importLog(actor, uint32(level), p, n)
}

func (wasmHost) fail(reason string) {
	p, n := strPtr(reason)
	importFail(p, n)
}

func (wasmHost) monitorNode(actor uint64, node string) (uint64, uint32) {
	p, n := strPtr(node)
	pidOut[0] = 0
	code := importMonitorNode(actor, p, n, unsafe.Pointer(&pidOut))
	return pidOut[0], code
}

func (wasmHost) joinGroup(actor uint64, group string) uint32 {
	p, n := strPtr(group)
	return importJoinGroup(actor, p, n)
}

func (wasmHost) leaveGroup(actor uint64, group string) uint32 {
	p, n := strPtr(group)
	return importLeaveGroup(actor, p, n)
}

func (wasmHost) groupMembers(group string, dst []PID) (int, uint32) {
	p, n := strPtr(group)
	countOut = 0
	// PID is two uint64s, exactly the 16 bytes the host writes per member.
	code := importGroupMembers(p, n, unsafe.Pointer(unsafe.SliceData(dst)), uint32(len(dst)), unsafe.Pointer(&countOut))
	return int(countOut), code
}

func (wasmHost) sendGroup(actor uint64, group string, msg []byte) (uint32, uint32, uint32) {
	gp, gn := strPtr(group)
	p, n := bytesPtr(msg)
	pidOut = [3]uint64{}
	code := importSendGroup(actor, gp, gn, p, n, unsafe.Pointer(&pidOut))
	return uint32(pidOut[0]), uint32(pidOut[0] >> 32), code
}

func (wasmHost) monitorGroup(actor uint64, group string) (uint64, uint32) {
	p, n := strPtr(group)
	pidOut[0] = 0
	code := importMonitorGroup(actor, p, n, unsafe.Pointer(&pidOut))
	return pidOut[0], code
}
