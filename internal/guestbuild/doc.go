// Package guestbuild compiles Go guest packages to WASM for tests.
//
// Tests across the repository need real guest modules (the examples, the
// bench guest in testdata/guests/bench). Compiling a Go guest takes seconds,
// so results are cached on disk and in memory, keyed by everything that can
// change the output.
//
// # Usage
//
//	wasm := guestbuild.Build(t, "examples/counter")
//
// [Build] fails the test on error; [BuildErr] returns the error instead.
//
// # Paths
//
// An absolute pkgDir is used as is. A relative pkgDir that starts with "./"
// or "../" is resolved against the working directory (a test's own package
// directory, e.g. "./testdata/guest"). Any other relative pkgDir is resolved
// against the repository root found by [RepoRoot] (e.g. "examples/counter").
// The package must live inside the wasmactor module.
//
// # Build command
//
// From the module root, with GOOS=wasip1 and GOARCH=wasm:
//
//	go build -buildmode=c-shared -o X.wasm ./<pkg>
//
// The guest is a WASI reactor: the host calls _initialize (which runs the
// package's init functions) and then the wasmactor_* exports; main never runs.
//
// # Cache
//
// The key is a SHA-256 over a scheme version, the go command's version,
// GOFLAGS, the package path, the non-test .go files of the package directory
// and of every package under guest-sdk/, and go.mod and go.sum. Other local
// packages a guest imports are not part of the key; guests should import only
// the SDK (and the standard library).
//
// Results live in os.UserCacheDir()/wasmactor/guests (os.TempDir() when there
// is no user cache directory); the WASMACTOR_GUEST_CACHE environment variable
// overrides the directory. Files are written to a temporary name and renamed,
// so test binaries running in parallel never see a partial module.
package guestbuild
