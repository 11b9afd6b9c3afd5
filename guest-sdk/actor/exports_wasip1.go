//go:build wasip1

//lint:file-ignore U1000 the host calls these through //go:wasmexport, which staticcheck does not see

package actor

import "unsafe"

// The exports the host calls (docs/abi.md). They are thin: all logic lives in
// the platform-neutral instance so it is tested natively.

//go:wasmexport wasmactor_abi_version
func exportABIVersion() int32 { return abiVersion }

//go:wasmexport wasmactor_factories
func exportFactories() int64 { return packSlice(inst.factoryList()) }

//go:wasmexport wasmactor_snapshotters
func exportSnapshotters() int64 { return packSlice(inst.snapshotterList()) }

//go:wasmexport wasmactor_inbox
func exportInbox(size uint32) uint32 {
	b := inst.inboxFor(size)
	if b == nil {
		return 0
	}
	return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b))))
}

//go:wasmexport wasmactor_deliver
func exportDeliver(n uint32) int32 { return inst.deliver(n) }

//go:wasmexport wasmactor_snapshot
func exportSnapshot(actor uint64) int64 {
	state, refusal := inst.snapshot(actor)
	if refusal != 0 {
		return -int64(refusal)
	}
	return packSlice(state)
}

// packSlice returns (ptr << 32) | len. The slice must stay referenced by the
// instance until the next call into the guest; the callers' slices do.
func packSlice(b []byte) int64 {
	p := uint64(uintptr(unsafe.Pointer(unsafe.SliceData(b))))
	return int64(p<<32 | uint64(uint32(len(b))))
}
