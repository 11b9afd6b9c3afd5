// Command notactor compiles to WASM but does not use the guest SDK: build
// must say it is not a wasmactor module.
package main

func main() {}
