package main

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/stretchr/testify/require"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	require.NoError(t, err)
	return b
}

func TestJSONToCBOR(t *testing.T) {
	for _, tc := range []struct {
		in, want string // want is hex
	}{
		{`0`, "00"},
		{`1`, "01"},
		{`-1`, "20"},
		{`1000000`, "1a 000f4240"},
		{`18446744073709551615`, "1b ffffffffffffffff"},
		{`-9223372036854775808`, "3b 7fffffffffffffff"},
		{`-18446744073709551616`, "3b ffffffffffffffff"},
		{`18446744073709551616`, "c2 49 010000000000000000"},  // bignum
		{`-18446744073709551617`, "c3 49 010000000000000000"}, // negative bignum
		{`1.5`, "f9 3e00"},
		{`1.0`, "f9 3c00"}, // a float stays a float, even when integral
		{`1e3`, "f9 63d0"},
		{`0.1`, "fb 3fb999999999999a"},
		{`"x"`, "61 78"},
		{`"é"`, "62 c3a9"},
		{`true`, "f5"},
		{`false`, "f4"},
		{`null`, "f6"},
		{`[]`, "80"},
		{`{}`, "a0"},
		{` [1, "a", [null]] `, "83 01 61 61 81 f6"},
		// Keys in deterministic order: shorter first, then bytewise.
		{`{"op":"inc","by":2}`, "a2 62 6279 02 62 6f70 63 696e63"},
		{`{"b":{"c":-3},"a":[1.5]}`, "a2 61 61 81 f9 3e00 61 62 a1 61 63 22"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := JSONToCBOR("message", []byte(tc.in))
			require.NoError(t, err)
			require.Equal(t, tc.want, spaced(got, tc.want))
		})
	}
}

// spaced formats b as hex grouped like want, so failures read easily.
func spaced(b []byte, want string) string {
	h := hex.EncodeToString(b)
	var out strings.Builder
	for _, group := range strings.Fields(want) {
		if len(h) < len(group) {
			break
		}
		if out.Len() > 0 {
			out.WriteByte(' ')
		}
		out.WriteString(h[:len(group)])
		h = h[len(group):]
	}
	if h != "" {
		out.WriteString(" +" + h)
	}
	return out.String()
}

func TestJSONToCBORErrors(t *testing.T) {
	deep := strings.Repeat("[", maxJSONDepth+1) + strings.Repeat("]", maxJSONDepth+1)
	for _, tc := range []struct {
		in   string
		want string
	}{
		{``, "invalid JSON in message at line 1, column 1 (byte 0): empty"},
		{`   `, "invalid JSON in message at line 1, column 4 (byte 3): empty"},
		{`{"a":1,"a":2}`, `at line 1, column 8 (byte 7): duplicate key "a"`},
		{`{"a":}`, "at line 1, column 6 (byte 5): invalid character '}' looking for beginning of value"},
		{"{\n  \"a\": tru\n}", "at line 2, column 11"},
		{`{"a":1} x`, "at line 1, column 9 (byte 8): unexpected data after the value"},
		{`{"a":1}{}`, "unexpected data after the value"},
		{`[1,]`, "invalid character ']'"},
		{`{"a":1`, "unexpected end of input"},
		{`1e999`, "number 1e999 does not fit a 64-bit float"},
		{`'x'`, "invalid character '\\''"},
		{deep, "nested deeper than 64 levels"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			_, err := JSONToCBOR("message", []byte(tc.in))
			require.Error(t, err)
			require.ErrorIs(t, err, errJSON)
			require.Contains(t, err.Error(), tc.want)
			require.NotContains(t, err.Error(), "\n")
		})
	}
}

func TestCBORToJSON(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string // in is hex
	}{
		{"empty payload", "", `null`},
		{"uint", "1b ffffffffffffffff", `18446744073709551615`},
		{"negative", "38 63", `-100`},
		{"most negative", "3b ffffffffffffffff", `-18446744073709551616`},
		{"int64 min", "3b 7fffffffffffffff", `-9223372036854775808`},
		{"text", "65 68656c6c6f", `"hello"`},
		{"no HTML escaping", "65 3c612662 3e", `"<a&b>"`},
		{"control chars", "62 0a22", `"\n\""`},
		{"bytes", "43 010203", `"AQID"`},
		{"empty bytes", "40", `""`},
		{"map", "a2 61 61 01 61 62 82 f5 f4", `{"a":1,"b":[true,false]}`},
		{"map keeps order", "a2 61 62 01 61 61 02", `{"b":1,"a":2}`},
		{"int keys", "a2 01 02 20 03", `{"1":2,"-1":3}`},
		{"bytes key", "a1 42 0102 00", `{"AQI=":0}`},
		{"array key", "a1 82 01 02 03", `{"[1,2]":3}`},
		{"map key", "a1 a1 61 61 01 02", `{"{\"a\":1}":2}`},
		{"bool and null keys", "a3 f5 01 f4 02 f6 03", `{"true":1,"false":2,"null":3}`},
		{"float key", "a1 f9 3e00 01", `{"1.5":1}`},
		{"tagged text key", "a1 c0 61 78 01", `{"x":1}`},
		{"half", "f9 3e00", `1.5`},
		{"half subnormal", "f9 0001", `5.960464477539063e-8`},
		{"half negative zero", "f9 8000", `-0`},
		{"single", "fa 47c35000", `100000`},
		{"double", "fb 3fb999999999999a", `0.1`},
		{"NaN", "f9 7e00", `"NaN"`},
		{"single NaN", "fa 7fc00000", `"NaN"`},
		{"+Inf", "f9 7c00", `"Infinity"`},
		{"-Inf", "fb fff0000000000000", `"-Infinity"`},
		{"null", "f6", `null`},
		{"undefined", "f7", `null`},
		{"simple", "f0", `{"simple":16}`},
		{"simple 255", "f8 ff", `{"simple":255}`},
		{"bignum", "c2 49 010000000000000000", `18446744073709551616`},
		{"negative bignum", "c3 49 010000000000000000", `-18446744073709551617`},
		{"empty bignum", "c2 40", `0`},
		{"bignum of the wrong type", "c2 01", `{"tag":2,"value":1}`},
		{"date string", "c0 74 323031332d30332d32315432303a30343a30305a", `"2013-03-21T20:04:00Z"`},
		{"epoch", "c1 1a 514b67b0", `1363896240`},
		{"other tag", "d8 2a 82 01 02", `{"tag":42,"value":[1,2]}`},
		{"indefinite array", "9f 01 9f ff ff", `[1,[]]`},
		{"indefinite map", "bf 61 61 01 ff", `{"a":1}`},
		{"indefinite text", "7f 62 6162 61 63 ff", `"abc"`},
		{"indefinite bytes", "5f 41 01 42 0203 ff", `"AQID"`},
		{"nested", "a1 61 78 a1 61 79 81 a0", `{"x":{"y":[{}]}}`},
		{"counter reply", "a1 65 76616c7565 18 2a", `{"value":42}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CBORToJSON(unhex(t, tc.in))
			require.NoError(t, err)
			require.Equal(t, tc.want, string(got))
			require.True(t, json.Valid(got), "%s", got)
		})
	}
}

func TestCBORToJSONErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"truncated array", "82 01", "malformed CBOR: unexpected EOF"},
		{"truncated map", "a1 01", "unexpected EOF"},
		{"truncated nested", "82 01 19 00", "unexpected EOF"},
		{"truncated head", "19 01", "unexpected EOF"},
		{"trailing", "01 02", "1 bytes of extraneous data starting at index 1"},
		{"invalid UTF-8", "62 fffe", "at byte 0: invalid UTF-8"},
		{"invalid UTF-8 key", "a1 62 fffe 01", "at byte 1: invalid UTF-8"},
		{"lone break", "ff", `unexpected "break" code`},
		{"reserved info", "1c", "invalid additional information 28"},
		{"duplicate key", "a2 01 00 61 31 00", `at byte 3: duplicate map key "1"`},
		{"duplicate text key", "a2 61 61 00 61 61 01", `duplicate map key "a"`},
		{"huge array", "9b ffffffffffffffff", "array length 18446744073709551615 is too large"},
		{"huge map", "bb ffffffffffffffff", "map length 18446744073709551615 is too large"},
		{"huge string", "5b 7fffffffffffffff", "unexpected EOF"},
		{"huge chunk", "5f 5a ffffffff ff", "unexpected EOF"},
		{"chunk of wrong type", "5f 61 61 ff", "wrong element type"},
		{"nested indefinite chunk", "7f 7f ff ff", "chunk is not definite-length"},
		{"unterminated indefinite", "9f 01", "unexpected EOF"},
		{"indefinite tag", "df 01", "invalid additional information 31 for type tag"},
		{"two-byte simple below 32", "f8 10", "invalid simple value 16"},
		{"too deep", strings.Repeat("81", maxCBORDepth+2) + "00", "exceeded max nested level 64"},
		{"deep tags", strings.Repeat("d8 2a ", maxCBORDepth+2) + "00", "exceeded max nested level"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := CBORToJSON(unhex(t, tc.in))
			require.Error(t, err)
			require.ErrorIs(t, err, errCBOR)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

// Lengths and depths declared by a few bytes must not cost what they
// declare, and keys nested in keys (each level doubling the escapes of the
// one inside) must not print exabytes.
func TestCBORBombsConvertInBoundedMemory(t *testing.T) {
	bombs := map[string]string{
		"array of 2^32 elements":  "9a ffffffff 00",
		"map of 2^31 pairs":       "ba 80000000 01 01",
		"byte string of 2^60":     "5b 1000000000000000",
		"text chunk of 2^32":      "7f 7a ffffffff",
		"deep nesting":            strings.Repeat("81", 100000) + "00",
		"deep indefinite nesting": strings.Repeat("9f", 100000),
		"keys in keys":            strings.Repeat("a1", maxCBORDepth-1) + "61 22" + strings.Repeat("01", maxCBORDepth-1),
	}
	for name, in := range bombs {
		t.Run(name, func(t *testing.T) {
			b := unhex(t, in)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := CBORToJSON(b)
			runtime.ReadMemStats(&after)
			require.ErrorIs(t, err, errCBOR)
			require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20)+uint64(len(b))*maxJSONGrowth*8)
		})
	}
}

// Keys nested in keys print as escaped JSON until the output would outgrow
// the reply many times over.
func TestCBORToJSONKeysInKeys(t *testing.T) {
	nested := func(levels int) []byte {
		return unhex(t, strings.Repeat("a1", levels)+"61 22"+strings.Repeat("01", levels))
	}
	got, err := CBORToJSON(nested(2))
	require.NoError(t, err)
	require.Equal(t, `{"{\"\\\"\":1}":1}`, string(got))
	_, err = CBORToJSON(nested(20)) // 42 bytes that would print as 3 MB
	require.ErrorIs(t, err, errCBOR)
	require.ErrorContains(t, err, "more than 64 times the reply's size")
}

// The library's default cap of 131072 elements would refuse long replies a
// guest may legitimately send; only the reply's size bounds them.
func TestCBORToJSONLongArray(t *testing.T) {
	long := make([]int, 200_000)
	b, err := cbor.Marshal(long)
	require.NoError(t, err)
	got, err := CBORToJSON(b)
	require.NoError(t, err)
	require.Len(t, got, 2*len(long)+1)
}

// What a user types comes back the same (modulo key order and spacing)
// when a guest echoes it.
func TestJSONRoundTrip(t *testing.T) {
	for _, in := range []string{
		`{"a":{"c":-3},"b":[1,2.5,"x",null,true,false]}`,
		`[18446744073709551615,-18446744073709551616,18446744073709551616]`,
		`{"":0,"nested":{"deeper":[[[]]]},"unicode":"héllo ☃ <&>"}`,
		`0.1`,
		`-0.5`,
		`1e+300`,
	} {
		b, err := JSONToCBOR("message", []byte(in))
		require.NoError(t, err)
		out, err := CBORToJSON(b)
		require.NoError(t, err)
		require.JSONEq(t, in, string(out))
	}
}

// The conversion must agree with what a guest decodes using fxamacker/cbor,
// the SDK's fallback codec.
func TestJSONToCBORDecodesInGuestTypes(t *testing.T) {
	b, err := JSONToCBOR("--args", []byte(`{"op":"inc","by":5,"ratio":0.5,"tags":["a"]}`))
	require.NoError(t, err)
	var v struct {
		Op    string   `cbor:"op"`
		By    *int64   `cbor:"by"`
		Ratio float64  `cbor:"ratio"`
		Tags  []string `cbor:"tags"`
	}
	require.NoError(t, cbor.Unmarshal(b, &v))
	require.Equal(t, "inc", v.Op)
	require.Equal(t, int64(5), *v.By)
	require.Equal(t, 0.5, v.Ratio)
	require.Equal(t, []string{"a"}, v.Tags)
}

func FuzzCBORToJSON(f *testing.F) {
	for _, s := range []string{
		"", "00", "a1616101", "9f0102ff", "c249010000000000000000", "f97e00", "a1820102 03",
		"7f626162616 3ff", "bf61610 1ff", "d82a8201 02", "f7", "f0", "3bffffffffffffffff",
		"a2 01 00 61 31 00", "9bffffffffffffffff", "5f41014202 03ff",
		"c2 01", "c2 5f 41 01 ff", "c1 61 78", "a1 a1 a1 61 22 01 01 01", "a1 82 f9 7e00 f7 f0",
		"bf 5f 41 01 ff 01 ff", "9f d8 2a 9f ff ff",
	} {
		b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
		if err == nil {
			f.Add(b)
		}
	}
	for _, v := range []any{map[string]any{"value": 42}, []any{1.5, "x", []byte{1}}, map[int]string{1: "a"}} {
		b, err := cbor.Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := CBORToJSON(b)
		if err != nil {
			if !errors.Is(err, errCBOR) {
				t.Fatalf("error %v does not wrap errCBOR", err)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("invalid JSON %q from % x", out, b)
		}
		if len(out) > maxJSONLen(len(b)) {
			t.Fatalf("%d bytes of JSON from %d bytes of CBOR", len(out), len(b))
		}
	})
}

func FuzzJSONToCBOR(f *testing.F) {
	for _, s := range []string{`{"op":"inc","by":2}`, `[1,2.5,"x",null]`, `18446744073709551616`, `{"a":1,"a":2}`, `1e999`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := JSONToCBOR("message", []byte(s))
		if err != nil {
			if !errors.Is(err, errJSON) {
				t.Fatalf("error %v does not wrap errJSON", err)
			}
			return
		}
		// Whatever was accepted must print back as valid JSON.
		out, err := CBORToJSON(b)
		if err != nil {
			t.Fatalf("CBOR % x from %q does not convert back: %v", b, s, err)
		}
		if !json.Valid(out) {
			t.Fatalf("invalid JSON %q", out)
		}
	})
}
