//go:build !wasmactor_quicbridge

package main

// buildTags are the tags the end-to-end test builds the binary with.
const buildTags = ""
