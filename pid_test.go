package wasmactor_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor"
)

func TestPIDTextRoundTrips(t *testing.T) {
	for _, tc := range []struct {
		pid  wasmactor.PID
		text string
	}{
		{wasmactor.PID{Node: "n2", Incarnation: 0x3f9a0c11d2e4b607, Serial: 17}, "<n2.3f9a0c11d2e4b607.17>"},
		{wasmactor.PID{Node: "n3", Incarnation: 1, Serial: 1}, "<n3.0000000000000001.1>"},
		{wasmactor.PID{Node: "a-b_C9", Incarnation: math.MaxUint64, Serial: math.MaxUint64}, "<a-b_C9.ffffffffffffffff.18446744073709551615>"},
		{wasmactor.PID{Node: "dotted.name", Incarnation: 0xabc, Serial: 5}, "<dotted.name.0000000000000abc.5>"},
	} {
		require.Equal(t, tc.text, tc.pid.String())
		got, err := wasmactor.ParsePID(tc.text)
		require.NoError(t, err, tc.text)
		require.Equal(t, tc.pid, got)
	}
}

// Two runs of a node number their actors from 1 again; only the
// incarnation in the text keeps their PIDs apart.
func TestPIDTextOfTwoRunsDiffers(t *testing.T) {
	old := wasmactor.PID{Node: "n3", Incarnation: 0x1111, Serial: 1}
	fresh := wasmactor.PID{Node: "n3", Incarnation: 0x2222, Serial: 1}
	require.NotEqual(t, old.String(), fresh.String())
	parsed, err := wasmactor.ParsePID(old.String())
	require.NoError(t, err)
	require.Equal(t, old, parsed, "the incarnation survives the text form")
}

func TestParsePIDRefusesTextWithoutIncarnation(t *testing.T) {
	for text, why := range map[string]string{
		"<n3.17>":                   "has no incarnation",
		"<n3.3f9a.17>":              "16 lowercase hex digits",
		"<n3.3F9A0C11D2E4B607.17>":  "16 lowercase hex digits",
		"<n3.03f9a0c11d2e4b607.17>": "16 lowercase hex digits",
		"<n3.0000000000000000.17>":  "16 lowercase hex digits",
		"<n3.3f9a0c11d2e4b607.0>":   "no valid serial",
		"<n3.3f9a0c11d2e4b607.017>": "no valid serial",
		"<n3.3f9a0c11d2e4b607.+17>": "no valid serial",
		"<n3.3f9a0c11d2e4b607.>":    "no valid serial",
		"<.3f9a0c11d2e4b607.17>":    "no node name",
		"<3f9a0c11d2e4b607.17>":     "has no incarnation",
		"n3.3f9a0c11d2e4b607.17":    "not of the form",
		"<n3>":                      "not of the form",
		"<>":                        "not of the form",
		"<":                         "not of the form",
		"":                          "not of the form",
		"<n3.3f9a0c11d2e4b607.17> ": "not of the form",
		"<n3.3f9a0c11d2e4b607.99999999999999999999>": "no valid serial",
	} {
		_, err := wasmactor.ParsePID(text)
		require.ErrorIs(t, err, wasmactor.ErrBadPID, text)
		require.ErrorContains(t, err, why, text)
		require.ErrorContains(t, err, "copy the PID as printed", text)
		require.ErrorContains(t, err, "registered name", text)
	}
}

func FuzzParsePID(f *testing.F) {
	f.Add("<n2.3f9a0c11d2e4b607.17>")
	f.Add("<n3.17>")
	f.Add("<a.b.c.d>")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := wasmactor.ParsePID(s)
		if err != nil {
			require.ErrorIs(t, err, wasmactor.ErrBadPID)
			return
		}
		require.Equal(t, s, p.String(), "only the printed form parses")
		require.NotZero(t, p.Incarnation)
		require.NotZero(t, p.Serial)
	})
}
