//go:build wasip1

package main

import "unsafe"

//go:wasmimport wasmactor log
func importLog(actor uint64, level uint32, ptr unsafe.Pointer, n uint32)

// logAs calls the log import naming any actor id, as a guest that does not
// use the SDK could.
func logAs(id uint64, text string) {
	importLog(id, 1, unsafe.Pointer(unsafe.StringData(text)), uint32(len(text)))
}
