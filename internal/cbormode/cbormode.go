package cbormode

import "github.com/fxamacker/cbor/v2"

// Limits of [Strict]; the package documentation says whom each one fits.
const (
	MaxArrayElements = 1 << 20
	MaxMapPairs      = 1024
	MaxNestedLevels  = 16
)

// strictOptions are the options of [Strict].
var strictOptions = cbor.DecOptions{
	DupMapKey:        cbor.DupMapKeyEnforcedAPF,
	IndefLength:      cbor.IndefLengthForbidden,
	TagsMd:           cbor.TagsForbidden,
	MaxNestedLevels:  MaxNestedLevels,
	MaxArrayElements: MaxArrayElements,
	MaxMapPairs:      MaxMapPairs,
	UTF8:             cbor.UTF8RejectInvalid,
}

var (
	strict        = must(strictOptions.DecMode())
	deterministic = must(func() (cbor.EncMode, error) {
		o := cbor.CoreDetEncOptions()
		o.IndefLength = cbor.IndefLengthForbidden
		o.TagsMd = cbor.TagsForbidden
		return o.EncMode()
	}())
	payload = must(func() (cbor.EncMode, error) {
		o := cbor.CoreDetEncOptions()
		o.IndefLength = cbor.IndefLengthForbidden
		return o.EncMode()
	}())
)

// Strict returns the decoding mode for every byte the cluster reads from a
// peer, the CLI or the disk.
func Strict() cbor.DecMode { return strict }

// StrictOptions returns a copy of the options of [Strict], for a decoder
// that needs the same rules with tighter limits (package token rejects
// unknown keys too, and holds a few dozen items at most).
func StrictOptions() cbor.DecOptions { return strictOptions }

// Deterministic returns the encoding mode for every byte the cluster writes.
func Deterministic() cbor.EncMode { return deterministic }

// Payload returns the encoding mode for actor payloads a Go program writes
// (the client's Send, Call and spawn args): deterministic like
// [Deterministic], but tags are allowed, because a payload is user data
// that the cluster never decodes: typed messages are tagged, and so are
// big numbers.
func Payload() cbor.EncMode { return payload }

// must turns a mode error into a panic at start-up: the options are
// constants, so an error is a bug found by any test.
func must[M any](m M, err error) M {
	if err != nil {
		panic("cbormode: " + err.Error())
	}
	return m
}
