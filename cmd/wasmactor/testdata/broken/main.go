// Command broken does not compile: build must pass the compiler's errors on
// and fail with one wasmactor line.
package main

func main() { undefinedFunction() }
