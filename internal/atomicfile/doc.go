// Package atomicfile replaces files so that readers see the old content or
// the new, never a partial file: the module store, the guest build cache
// (read by test binaries running in parallel) and `wasmactor build -o` all
// write through [Write].
//
// # How
//
// The data goes to a temporary file in the target's directory, named with
// [TempPrefix], which is synced, given its mode and renamed over the target;
// then the directory is synced so the rename survives a crash. A failed
// write removes its temporary file. A crash can still leave one behind;
// owners of a directory remove names starting with [TempPrefix] when they
// open it.
//
// The mode is set exactly as asked: the process umask does not apply, so a
// shared cache readable by every user stays readable.
package atomicfile
