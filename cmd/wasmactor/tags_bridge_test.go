//go:build wasmactor_quicbridge

package main

const buildTags = "wasmactor_quicbridge"
