package engine

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// captureHandler keeps every record.
type captureHandler struct{ recs *[]slog.Record }

func (h captureHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h captureHandler) Handle(_ context.Context, r slog.Record) error {
	*h.recs = append(*h.recs, r)
	return nil
}
func (h captureHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h captureHandler) WithGroup(string) slog.Handler      { return h }

func TestLineWriter(t *testing.T) {
	var recs []slog.Record
	w := newLineWriter(slog.New(captureHandler{&recs}), slog.LevelWarn)
	write := func(s string) {
		n, err := w.Write([]byte(s))
		require.NoError(t, err)
		require.Equal(t, len(s), n)
	}
	write("hel")
	write("lo\nwor")
	write("ld\n\nlast")
	require.Len(t, recs, 3)
	require.Equal(t, "hello", recs[0].Message)
	require.Equal(t, "world", recs[1].Message)
	require.Equal(t, "", recs[2].Message)

	// Megabytes without a newline: one truncated line, bounded buffer.
	recs = recs[:0]
	big := bytes.Repeat([]byte("x"), 1<<20)
	for range 8 {
		_, _ = w.Write(big)
	}
	require.LessOrEqual(t, cap(w.buf), 2*maxLogLine)
	write("\nafter\n")
	require.Len(t, recs, 2)
	require.Equal(t, "last"+strings.Repeat("x", maxLogLine-4), recs[0].Message)
	truncated := false
	recs[0].Attrs(func(a slog.Attr) bool { truncated = a.Key == "truncated"; return true })
	require.True(t, truncated)
	require.Equal(t, "after", recs[1].Message)
	require.Equal(t, slog.LevelWarn, recs[1].Level)
	require.Equal(t, "after", w.last)

	write("partial")
	w.flush()
	require.Equal(t, "partial", recs[2].Message)
}

func TestGuestOutputIsLogged(t *testing.T) {
	logs := &syncBuffer{}
	e := newEngine(t, Config{}, logs)
	m := compileFixture(t, e, "print.wasm")
	inst, err := e.Instantiate(context.Background(), m, &fakeHost{})
	require.NoError(t, err)
	require.NoError(t, inst.Deliver(context.Background(), startBatch(1, "Bad")))
	require.NoError(t, inst.Close(context.Background()))

	out := logs.String()
	tag := "module=" + m.prefix + " instance=" + fmt.Sprint(inst.ID())
	require.Contains(t, out, "level=INFO msg=hello "+tag+" stream=stdout")
	require.Contains(t, out, `level=INFO msg="from guest" `+tag+" stream=stdout")
	require.Contains(t, out, "stream=stderr truncated=true")
	require.Less(t, len(out), 4*maxLogLine+2000, "the long line was cut")
}
