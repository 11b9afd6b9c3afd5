// Package guestbuildtest gives tests and benchmarks the Go guest modules
// they need, built by [guestbuild.Build] with the cache every test binary
// on the machine shares ([guestbuild.DefaultCacheDir]).
//
// It is the only place the guest builder meets package testing, so that the
// CLI, which links guestbuild, does not link testing.
//
// # Usage
//
//	wasm := guestbuildtest.Build(t, "examples/counter")
//
// [Build] fails the test on error and returns a fresh copy each call.
//
// # Paths
//
// An absolute pkgDir is used as is. A relative pkgDir that starts with "./"
// or "../" is resolved against the working directory (a test's own package
// directory, e.g. "./testdata/guest"). Any other relative pkgDir is resolved
// against the wasmactor source tree found by [guestbuild.RepoRoot] (e.g.
// "examples/counter"), from the bench module too.
//
// # Compiled code
//
// Compiling a guest module to machine code is the other slow step.
// [ShareCompileCache] points the engine's on-disk compilation cache at
// [CompileCacheDir], beside the module cache, for the test process and the
// node processes it starts.
package guestbuildtest
