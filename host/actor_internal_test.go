package host

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// The actor record fills the 128-byte size class: a node holds a million
// of them, and one more field moves every actor to the 144-byte class
// (16 MB per million actors). What few actors use goes behind actor.rare.
func TestActorRecordFitsItsSizeClass(t *testing.T) {
	require.LessOrEqual(t, unsafe.Sizeof(actor{}), uintptr(128))
}

// A queued record is 80 bytes: a spawn storm queues hundreds of thousands
// of STARTs, which take their factory from their actor.
func TestDeliveryIs80Bytes(t *testing.T) {
	require.LessOrEqual(t, unsafe.Sizeof(delivery{}), uintptr(80))
}
