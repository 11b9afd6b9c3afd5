// Command trivial is the smallest module guestbuild's tests compile. It
// depends on nothing but the standard library so the test stays quick and
// does not depend on the SDK being in a buildable state.
package main

//go:wasmexport wasmactor_abi_version
func abiVersion() int32 { return 1 }

func main() {}
