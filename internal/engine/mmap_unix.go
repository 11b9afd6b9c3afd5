//go:build linux || darwin || freebsd

package engine

import "syscall"

const mmapSupported = true

// mmapReserve reserves n bytes of address space, inaccessible and without
// committing memory.
func mmapReserve(n uint64) ([]byte, error) {
	return syscall.Mmap(-1, 0, int(n), syscall.PROT_NONE, syscall.MAP_PRIVATE|syscall.MAP_ANON|mmapNoReserve)
}

// mmapCommit makes m[from:to] readable and writable. The kernel hands out
// zeroed pages on first touch.
func mmapCommit(m []byte, from, to uint64) error {
	return syscall.Mprotect(m[from:to], syscall.PROT_READ|syscall.PROT_WRITE)
}

func mmapRelease(m []byte) { _ = syscall.Munmap(m) }
