package actor

// hostAPI is the set of ABI imports (docs/abi.md, module "wasmactor"). On
// wasip1 it is the real import table; elsewhere a stub that answers
// ErrNotInGuest, and in this package's tests a fake host. Keeping the runtime
// behind this interface is what lets the dispatch logic be tested natively.
//
// Every slice argument is only read during the call (the host copies), so
// callers reuse their buffers.
type hostAPI interface {
	selfNode() uint64
	send(actor uint64, to PID, msg []byte) uint32
	ask(actor uint64, to PID, ref uint64, timeoutMS uint32, msg []byte) uint32
	reply(actor uint64, to PID, ref uint64, msg []byte) uint32
	spawn(actor uint64, name string, args []byte, flags uint32) (PID, uint32)
	stop(actor uint64, reason string)
	kill(actor uint64, to PID, reason string) uint32
	monitor(actor uint64, to PID) uint64
	demonitor(actor, ref uint64)
	link(actor uint64, to PID) uint32
	unlink(actor uint64, to PID)
	trapExit(actor uint64, on bool)
	register(actor uint64, name string) uint32
	unregister(actor uint64, name string)
	whereis(name string) (PID, uint32)
	sendAfter(actor uint64, to PID, delayMS uint32, msg []byte) uint32
	log(actor uint64, level Level, msg []byte)
	fail(reason string)
}

// stubHost stands in for the host when the package is built for a platform
// without the wasmactor imports (go vet, unit tests, tools).
type stubHost struct{}

func (stubHost) selfNode() uint64                                   { return 0 }
func (stubHost) send(uint64, PID, []byte) uint32                    { return codeNotInGuest }
func (stubHost) ask(uint64, PID, uint64, uint32, []byte) uint32     { return codeNotInGuest }
func (stubHost) reply(uint64, PID, uint64, []byte) uint32           { return codeNotInGuest }
func (stubHost) spawn(uint64, string, []byte, uint32) (PID, uint32) { return PID{}, codeNotInGuest }
func (stubHost) stop(uint64, string)                                {}
func (stubHost) kill(uint64, PID, string) uint32                    { return codeNotInGuest }
func (stubHost) monitor(uint64, PID) uint64                         { return 0 }
func (stubHost) demonitor(uint64, uint64)                           {}
func (stubHost) link(uint64, PID) uint32                            { return codeNotInGuest }
func (stubHost) unlink(uint64, PID)                                 {}
func (stubHost) trapExit(uint64, bool)                              {}
func (stubHost) register(uint64, string) uint32                     { return codeNotInGuest }
func (stubHost) unregister(uint64, string)                          {}
func (stubHost) whereis(string) (PID, uint32)                       { return PID{}, codeNotInGuest }
func (stubHost) sendAfter(uint64, PID, uint32, []byte) uint32       { return codeNotInGuest }
func (stubHost) log(uint64, Level, []byte)                          {}
func (stubHost) fail(string)                                        {}
