// Package bench holds wasmactor's cluster benchmarks and the Proto.Actor Go
// baselines they are compared with. It is a module of its own so that the
// main module never depends on Proto.Actor (and gRPC).
//
// Everything is in the _test files; see README.md for what each benchmark
// measures and how to run them:
//
//	cd bench && go test -run='^$' -bench=. -count=5 | tee out.txt
package bench
