// Package guestbuild compiles Go guest packages to WebAssembly. It is the one
// place the project runs the go command for a guest: `wasmactor build` and
// `wasmactor demo`, the tests (through guestbuildtest) and the benchmarks
// of the bench module all call [Build].
//
// It imports no test packages, so the CLI that links it stays free of
// package testing; a test keeps it that way. Tests use
// guestbuildtest.Build, which adds t.Fatal semantics, repository-relative
// paths and the shared cache on top.
//
// # Build command
//
// In the package directory, with GOOS=wasip1 and GOARCH=wasm added to the
// environment:
//
//	go build -buildmode=c-shared -o X.wasm .
//
// The guest is a WASI reactor: the host calls _initialize (which runs the
// package's init functions) and then the wasmactor_* exports; main never
// runs. The go command finds the package's module itself, so any package
// builds, inside this repository or in a user's own module.
//
// # Options
//
// [WithOutput] also writes the module to a file, atomically; [WithStderr]
// streams the go command's output (otherwise it is part of the error);
// [WithCache] reuses earlier results.
//
// # Cache
//
// Compiling a Go guest takes seconds, and the tests need the same few guests
// in many test binaries, so [WithCache] keeps results in a directory, keyed
// by a SHA-256 over a scheme version, the go command's version, GOFLAGS,
// GOTOOLCHAIN, the package's import path, its module's go.mod and go.sum,
// the package's non-test .go files and, when the package lives in a wasmactor
// source tree (the bench module's guests do too), that tree's go.mod, go.sum
// and guest-sdk/. Other local packages a guest imports, and embedded files,
// are not part of the key; guests should import only the SDK and the
// standard library. [DefaultCacheDir] is the directory the tests, the
// benchmarks and the demo share.
//
// Entries are written with [atomicfile.Write], so builds running in parallel
// in several processes never see a partial module; within a process, builds
// of one key run once.
package guestbuild
