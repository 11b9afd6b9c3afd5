package testmsg

import (
	"errors"
	"math"
	"reflect"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor/guest-sdk/actor"
	"github.com/wasmactor/wasmactor/guest-sdk/typed"
)

func full() Everything {
	i64, u32 := int64(-7), uint32(9)
	return Everything{
		Bool: true, Int: math.MinInt64, Int8: -128, Int16: 32767, Int32: math.MinInt32, Int64: math.MaxInt64,
		Uint: math.MaxUint64, Uint8: 255, Uint16: 65535, Uint32: math.MaxUint32, Uint64: 1 << 63,
		Float32: 1.5, Float64: -2.25e300, String: "héllo", Bytes: []byte{0, 1, 2},
		Label: "lbl", Cents: -100, PID: actor.PID{Incarnation: 0xdeadbeef, Serial: 42},
		Nested: Receipt{ID: 1, Total: 2}, Ptr: &i64, PtrMsg: &Receipt{ID: 3},
		Ints: []int64{1, -1, 1 << 40}, Strings: []string{"a", ""}, Orders: []Order{sampleOrder()},
		Matrix: [][]uint16{{1, 2}, nil, {}}, ByName: map[string]Receipt{"x": {ID: 5}},
		Counts: map[string]*uint32{"n": &u32, "nil": nil},
	}
}

func sampleOrder() Order {
	return Order{ID: 123456789, Customer: "customer-0042", Item: "blue widget, large", Quantity: 12, Price: 199999, Express: true, Note: "leave at the door"}
}

func TestRoundTrip(t *testing.T) {
	for _, v := range []Everything{full(), {}} {
		data := typed.Marshal(v)
		got, err := typed.Decode[Everything](data)
		require.NoError(t, err)
		require.Equal(t, v, got)

		// fxamacker/cbor goes through the generated methods, both ways.
		var viaLib Everything
		require.NoError(t, cbor.Unmarshal(data, &viaLib))
		require.Equal(t, v, viaLib)
		libData, err := cbor.Marshal(v)
		require.NoError(t, err)
		require.Equal(t, data[:5], libData[:5], "the type tag")
		fromLib, err := typed.Decode[Everything](libData)
		require.NoError(t, err)
		require.Equal(t, v, fromLib, "the same message (map order varies)")
	}
}

func TestSkippedFields(t *testing.T) {
	v := Everything{Skipped: "not sent", private: 1}
	got, err := typed.Decode[Everything](typed.Marshal(v))
	require.NoError(t, err)
	require.Equal(t, Everything{}, got)
}

// plainOrder has Order's fields and tags but none of its methods, so
// fxamacker/cbor handles it by reflection.
type plainOrder Order

// TestSameFormAsReflection: the generated body is byte for byte what
// reflection writes, and each reads the other's.
func TestSameFormAsReflection(t *testing.T) {
	for _, o := range []Order{sampleOrder(), {ID: 1}} {
		want, err := cbor.Marshal(plainOrder(o))
		require.NoError(t, err)
		require.Equal(t, want, o.AppendCBOR(nil))

		var back plainOrder
		require.NoError(t, cbor.Unmarshal(o.AppendCBOR(nil), &back))
		require.Equal(t, plainOrder(o), back)
	}
}

// TestReadsJSONShapedInput: what the CLI makes of JSON (keys sorted, ints
// for floats, absent fields, unknown keys) decodes.
func TestReadsJSONShapedInput(t *testing.T) {
	in, err := cbor.CoreDetEncOptions().EncMode()
	require.NoError(t, err)
	data, err := in.Marshal(map[string]any{
		"qty": 3, "price": -5, "customer": "c", "unknown": map[string]any{"deep": []any{1, "x", nil, 1.5}},
		"Float64": 7,
	})
	require.NoError(t, err)
	o, rest, err := readOrder(data)
	require.NoError(t, err)
	require.Empty(t, rest)
	require.Equal(t, Order{Quantity: 3, Price: -5, Customer: "c"}, o)

	var e Everything
	_, err = e.ReadCBOR(data)
	require.NoError(t, err)
	require.Equal(t, 7.0, e.Float64)
}

func readOrder(b []byte) (Order, []byte, error) {
	var o Order
	rest, err := o.ReadCBOR(b)
	return o, rest, err
}

func TestErrorsNameTheField(t *testing.T) {
	enc := func(v any) []byte {
		b, err := cbor.Marshal(v)
		require.NoError(t, err)
		return b
	}
	for _, tc := range []struct {
		in   []byte
		want string
	}{
		{enc(map[string]any{"qty": "three"}), "Order.qty: want an integer"},
		{enc(map[string]any{"qty": int64(1) << 40}), "Order.qty: integer out of range"},
		{enc(map[string]any{"id": -1}), "Order.id: integer out of range"},
		{enc([]int{1}), "Order: want a map"},
		{truncate(enc(map[string]any{"customer": "x"})), "Order.customer: truncated"},
		{[]byte{0xbf, 0xff}, "Order: indefinite-length items are not accepted"},
		{enc(map[int]int{1: 2}), "Order: want a text string"},
		{enc(map[string]any{"customer": string([]byte{0xff})}), "Order.customer: text is not valid UTF-8"},
	} {
		_, _, err := readOrder(tc.in)
		require.ErrorIs(t, err, typed.ErrMalformed, "%x", tc.in)
		require.ErrorContains(t, err, tc.want)
	}

	var e Everything
	_, err := e.ReadCBOR(enc(map[string]any{"Orders": []any{map[string]any{"qty": "x"}}}))
	require.ErrorContains(t, err, "testmsg.Everything.Orders.qty: want an integer")
	require.ErrorIs(t, err, typed.ErrMalformed)
}

func truncate(b []byte) []byte { return b[:len(b)-1] }

func TestWrongTypeTag(t *testing.T) {
	_, err := typed.Decode[Receipt](typed.Marshal(sampleOrder()))
	require.ErrorIs(t, err, typed.ErrUnexpectedReply)
	require.ErrorContains(t, err, "want Receipt")
	_, err = typed.Decode[Receipt](sampleOrder().AppendCBOR(nil))
	require.ErrorIs(t, err, typed.ErrUnexpectedReply)
	require.ErrorContains(t, err, "untyped")

	_, err = typed.Decode[Receipt](typed.Marshal(typed.Error{Code: typed.CodeUnknownType, Message: "no"}))
	var te *typed.Error
	require.True(t, errors.As(err, &te))
	require.ErrorIs(t, err, typed.ErrUnknownType)
	require.Equal(t, "no", te.Message)
}

// TestDecodeAllocations: a message without strings decodes without
// allocating, Order allocates once for its three strings (substrings of
// one copy of the body), and encoding into a
// buffer with room allocates nothing. typed.Decode, generic over the
// type, costs one allocation more: the value escapes through the generic
// call (the SDK's router decodes into a value it keeps instead).
func TestDecodeAllocations(t *testing.T) {
	r := typed.Marshal(Receipt{ID: 1, Total: 2})
	var rv Receipt
	require.Zero(t, testing.AllocsPerRun(100, func() {
		if _, err := rv.ReadCBOR(r); err != nil {
			t.Fatal(err)
		}
	}))
	require.Equal(t, 1.0, testing.AllocsPerRun(100, func() {
		if _, err := typed.Decode[Receipt](r); err != nil {
			t.Fatal(err)
		}
	}))
	o := typed.Marshal(sampleOrder())
	var ov Order
	require.Equal(t, 1.0, testing.AllocsPerRun(100, func() {
		if _, err := ov.ReadCBOR(o); err != nil {
			t.Fatal(err)
		}
	}))
	// The strings are a copy: the input (a reused inbox) may change.
	for i := range o {
		o[i] = 'X'
	}
	require.Equal(t, sampleOrder(), ov)
	buf := make([]byte, 0, 256)
	require.Zero(t, testing.AllocsPerRun(100, func() { buf = typed.Append(buf[:0], sampleOrder()) }))
}

// FuzzReadCBOR: no input panics the generated reader, and whatever it
// accepts survives another round trip unchanged.
func FuzzReadCBOR(f *testing.F) {
	f.Add(typed.Marshal(full()))
	f.Add(typed.Marshal(Everything{}))
	f.Add(typed.Marshal(sampleOrder()))
	f.Add([]byte{0xa1, 0x63, 'P', 'I', 'D', 0x82, 0x01, 0x02})
	f.Fuzz(func(t *testing.T, data []byte) {
		var v Everything
		rest, err := v.ReadCBOR(data)
		if err != nil {
			return
		}
		require.LessOrEqual(t, len(rest), len(data))
		again, err := typed.Decode[Everything](typed.Marshal(v))
		require.NoError(t, err)
		if reflect.DeepEqual(v, v) { // false when a float is NaN
			require.Equal(t, v, again)
		}
		var o Order
		if _, err := o.ReadCBOR(data); err == nil {
			require.Equal(t, typed.Marshal(o), typed.Marshal(must(t, o)))
		}
	})
}

func must(t *testing.T, o Order) Order {
	got, err := typed.Decode[Order](typed.Marshal(o))
	require.NoError(t, err)
	return got
}
