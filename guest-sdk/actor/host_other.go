//go:build !wasip1

package actor

// hostAPI is an interface outside wasip1, so tests can drive the runtime
// with a fake host.
type hostAPI = hostCalls

// newHost returns the stub: outside a wasip1 build there are no imports to
// call. Tests in this package install a fake host instead.
func newHost() hostAPI { return stubHost{} }

// stubHost stands in for the host when the package is built for a platform
// without the wasmactor imports (go vet, unit tests, tools).
type stubHost struct{}

func (stubHost) selfNode() uint64                               { return 0 }
func (stubHost) send(uint64, PID, []byte) uint32                { return codeNotInGuest }
func (stubHost) sendBatch(uint64, []byte) int64                 { return -codeNotInGuest }
func (stubHost) ask(uint64, PID, uint64, uint32, []byte) uint32 { return codeNotInGuest }
func (stubHost) reply(uint64, PID, uint64, []byte) uint32       { return codeNotInGuest }
func (stubHost) spawn(uint64, string, []byte, uint32) (PID, uint64, uint32) {
	return PID{}, 0, codeNotInGuest
}
func (stubHost) spawnRequest(uint64, uint64, string, []byte, string, uint32, restart) uint32 {
	return codeNotInGuest
}
func (stubHost) stop(uint64, string)             {}
func (stubHost) kill(uint64, PID, string) uint32 { return codeNotInGuest }
func (stubHost) monitor(uint64, PID) uint64      { return 0 }
func (stubHost) demonitor(uint64, uint64)        {}
func (stubHost) link(uint64, PID) uint32         { return codeNotInGuest }
func (stubHost) unlink(uint64, PID)              {}
func (stubHost) trapExit(uint64, bool)           {}
func (stubHost) register(uint64, string) uint32  { return codeNotInGuest }
func (stubHost) migrate(uint64, string) uint32   { return codeNotInGuest }
func (stubHost) unregister(uint64, string)       {}
func (stubHost) whereis(string) (PID, uint32)    { return PID{}, codeNotInGuest }
func (stubHost) sendAfter(uint64, PID, uint32, []byte) (uint64, uint32) {
	return 0, codeNotInGuest
}
func (stubHost) cancelTimer(uint64, uint64) uint32           { return codeNotInGuest }
func (stubHost) log(uint64, Level, []byte)                   {}
func (stubHost) fail(string)                                 {}
func (stubHost) monitorNode(uint64, string) (uint64, uint32) { return 0, codeNotInGuest }
func (stubHost) joinGroup(uint64, string) uint32             { return codeNotInGuest }
func (stubHost) leaveGroup(uint64, string) uint32            { return codeNotInGuest }
func (stubHost) groupMembers(string, []PID) (int, uint32)    { return 0, codeNotInGuest }
func (stubHost) sendGroup(uint64, string, []byte) (uint32, uint32, uint32) {
	return 0, 0, codeNotInGuest
}
func (stubHost) monitorGroup(uint64, string) (uint64, uint32) { return 0, codeNotInGuest }
