package proto

import (
	"fmt"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/cbormode"
)

// Marshal encodes a control body.
func Marshal(v any) []byte {
	b, err := cbormode.Deterministic().Marshal(v)
	if err != nil {
		// Only our own concrete types are encoded here; failing is a bug.
		panic(fmt.Sprintf("proto: cannot encode %T: %v", v, err))
	}
	return b
}

// Unmarshal decodes a control body, which comes from another node or the CLI,
// with the cluster's strict mode into a concrete type, so a hostile or buggy
// peer gets an error and not our memory. Errors wrap wasmactor.ErrBadArgument.
func Unmarshal(b []byte, v any) error {
	if err := cbormode.Strict().Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: malformed %T: %v", wasmactor.ErrBadArgument, v, err)
	}
	return nil
}

// EncodeValue encodes any Go value as a message payload (for the client
// and tests), deterministically, tags allowed ([cbormode.Payload]).
func EncodeValue(v any) ([]byte, error) { return cbormode.Payload().Marshal(v) }
