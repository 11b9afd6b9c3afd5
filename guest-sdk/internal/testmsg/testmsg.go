// Package testmsg holds message types that exercise every kind of field
// `wasmactor gen` supports, for the codec's tests, fuzz target and
// benchmarks. wasmactor_gen.go is generated:
//
//go:generate go run github.com/wasmactor/wasmactor/cmd/wasmactor gen
package testmsg

import (
	"github.com/wasmactor/wasmactor/guest-sdk/actor"
)

// Cents is a named integer type.
type Cents int64

// Label is a named string type.
type Label string

// Order is a message of about 100 bytes in its CBOR form, the size the
// design's per-message measurements use.
//
//wasmactor:message reply=Receipt
type Order struct {
	ID       uint64 `cbor:"id"`
	Customer string `cbor:"customer"`
	Item     string `cbor:"item"`
	Quantity int32  `cbor:"qty"`
	Price    Cents  `cbor:"price"`
	Express  bool   `cbor:"express"`
	Note     string `cbor:"note,omitempty"`
}

// Receipt answers an Order.
//
//wasmactor:message
type Receipt struct {
	ID    uint64 `cbor:"id"`
	Total Cents  `cbor:"total"`
}

// Everything has a field of every supported kind.
//
//wasmactor:message name=testmsg.Everything
type Everything struct {
	Bool    bool
	Int     int
	Int8    int8
	Int16   int16
	Int32   int32
	Int64   int64
	Uint    uint
	Uint8   uint8
	Uint16  uint16
	Uint32  uint32
	Uint64  uint64
	Float32 float32
	Float64 float64
	String  string
	Bytes   []byte
	Label   Label `cbor:"label"`
	Cents   Cents `cbor:"cents,omitempty"`
	PID     actor.PID
	Nested  Receipt
	Ptr     *int64
	PtrMsg  *Receipt
	Ints    []int64
	Strings []string `json:"strings"`
	Orders  []Order
	Matrix  [][]uint16
	ByName  map[string]Receipt
	Counts  map[string]*uint32
	Skipped string `cbor:"-"`
	private int
}
