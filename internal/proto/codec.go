package proto

import (
	"fmt"

	"github.com/fxamacker/cbor/v2"

	"github.com/wasmactor/wasmactor"
)

// Control bodies come from other nodes and from the CLI: decode them
// strictly, into concrete types, with small limits, so a hostile or buggy
// peer gets an error and not our memory.
var (
	decMode = func() cbor.DecMode {
		m, err := cbor.DecOptions{
			DupMapKey:        cbor.DupMapKeyEnforcedAPF,
			IndefLength:      cbor.IndefLengthForbidden,
			TagsMd:           cbor.TagsForbidden,
			MaxNestedLevels:  16,
			MaxArrayElements: 1 << 20,
			MaxMapPairs:      1 << 16,
		}.DecMode()
		if err != nil {
			panic(err)
		}
		return m
	}()
	encMode = func() cbor.EncMode {
		m, err := cbor.CoreDetEncOptions().EncMode()
		if err != nil {
			panic(err)
		}
		return m
	}()
)

// Marshal encodes a control body.
func Marshal(v any) []byte {
	b, err := encMode.Marshal(v)
	if err != nil {
		// Only our own concrete types are encoded here; failing is a bug.
		panic(fmt.Sprintf("proto: cannot encode %T: %v", v, err))
	}
	return b
}

// Unmarshal decodes a control body strictly; errors wrap wasmactor.ErrBadArgument.
func Unmarshal(b []byte, v any) error {
	if err := decMode.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: malformed %T: %v", wasmactor.ErrBadArgument, v, err)
	}
	return nil
}

// EncodeValue encodes any Go value as a message payload (for tests and the
// CLI), with the same deterministic options as control bodies.
func EncodeValue(v any) ([]byte, error) { return encMode.Marshal(v) }
