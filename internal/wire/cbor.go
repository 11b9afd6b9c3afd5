package wire

import (
	"fmt"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/cbormode"
)

// Marshal encodes v with the cluster's deterministic mode
// ([cbormode.Deterministic]).
func Marshal(v any) ([]byte, error) { return cbormode.Deterministic().Marshal(v) }

// Unmarshal decodes data into v with the cluster's strict mode
// ([cbormode.Strict]). data must hold exactly one CBOR item. Errors wrap
// [wasmactor.ErrBadArgument].
func Unmarshal(data []byte, v any) error {
	if err := cbormode.Strict().Unmarshal(data, v); err != nil {
		return fmt.Errorf("%w: cbor: %v", wasmactor.ErrBadArgument, err)
	}
	return nil
}
