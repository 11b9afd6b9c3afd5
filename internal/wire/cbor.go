package wire

import (
	"fmt"

	"github.com/fxamacker/cbor/v2"

	"github.com/wasmactor/wasmactor"
)

// Limits of the strict decoding mode. They bound what one decode can
// allocate independently of the frame size cap.
const (
	// MaxArrayElements bounds every CBOR array (an envelope batch is one).
	MaxArrayElements = 8192
	// MaxMapPairs bounds every CBOR map.
	MaxMapPairs = 1024
	// MaxNestedLevels bounds nesting of arrays and maps.
	MaxNestedLevels = 16
)

var (
	decMode cbor.DecMode
	encMode cbor.EncMode
)

func init() {
	var err error
	decMode, err = cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		IndefLength:      cbor.IndefLengthForbidden,
		TagsMd:           cbor.TagsForbidden,
		MaxNestedLevels:  MaxNestedLevels,
		MaxArrayElements: MaxArrayElements,
		MaxMapPairs:      MaxMapPairs,
		UTF8:             cbor.UTF8RejectInvalid,
	}.DecMode()
	if err != nil {
		panic("wire: bad CBOR decoding options: " + err.Error())
	}
	opts := cbor.CoreDetEncOptions()
	opts.IndefLength = cbor.IndefLengthForbidden
	opts.TagsMd = cbor.TagsForbidden
	encMode, err = opts.EncMode()
	if err != nil {
		panic("wire: bad CBOR encoding options: " + err.Error())
	}
}

// DecMode returns the strict decoding mode, for callers that need
// UnmarshalFirst or a Decoder.
func DecMode() cbor.DecMode { return decMode }

// EncMode returns the deterministic encoding mode.
func EncMode() cbor.EncMode { return encMode }

// Marshal encodes v with Core Deterministic Encoding.
func Marshal(v any) ([]byte, error) { return encMode.Marshal(v) }

// Unmarshal decodes data into v with the strict mode. data must hold exactly
// one CBOR item. Errors wrap [wasmactor.ErrBadArgument].
func Unmarshal(data []byte, v any) error {
	if err := decMode.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%w: cbor: %v", wasmactor.ErrBadArgument, err)
	}
	return nil
}
