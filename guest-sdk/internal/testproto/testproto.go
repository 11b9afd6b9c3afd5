// Package testproto is a small protocol for the SDK's router tests. It
// imports nothing of the SDK but package typed, so package actor's own
// tests can use it. wasmactor_gen.go is generated:
//
//go:generate go run github.com/wasmactor/wasmactor/cmd/wasmactor gen
package testproto

// Add asks for a sum.
//
//wasmactor:message reply=Sum
type Add struct {
	A int64 `cbor:"a"`
	B int64 `cbor:"b"`
}

// Sum answers Add, Later and Fail.
//
//wasmactor:message
type Sum struct {
	N int64 `cbor:"n"`
}

// Note is one-way.
//
//wasmactor:message
type Note struct {
	Text string `cbor:"text"`
}

// Later is answered in a later turn.
//
//wasmactor:message reply=Sum
type Later struct{}

// Fail is answered with an error.
//
//wasmactor:message reply=Sum
type Fail struct {
	Why string `cbor:"why"`
}

// Order is about 100 bytes in CBOR, the size the design's per-message
// measurements use: the benchmarks decode it.
//
//wasmactor:message
type Order struct {
	ID       uint64 `cbor:"id"`
	Customer string `cbor:"customer"`
	Item     string `cbor:"item"`
	Quantity int32  `cbor:"qty"`
	Price    int64  `cbor:"price"`
	Express  bool   `cbor:"express"`
	Note     string `cbor:"note,omitempty"`
}
