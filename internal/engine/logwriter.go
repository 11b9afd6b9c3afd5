package engine

import (
	"context"
	"log/slog"
)

// maxLogLine bounds one line of guest output; the rest of a longer line is
// dropped (the line is logged with truncated=true), so a guest printing
// megabytes without a newline costs the node at most this much memory.
const maxLogLine = 4096

// lineWriter turns a guest's stdout or stderr into log records, one per line.
// It is used only by the goroutine running the instance's calls (and by Close
// after them), so it needs no lock.
type lineWriter struct {
	log      *slog.Logger
	level    slog.Level
	buf      []byte
	dropping bool   // inside an over-long line
	last     string // the last line, for failure messages (stderr)
}

func newLineWriter(log *slog.Logger, level slog.Level) *lineWriter {
	return &lineWriter{log: log, level: level}
}

func (w *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		nl := -1
		for i, c := range p {
			if c == '\n' {
				nl = i
				break
			}
		}
		chunk := p
		if nl >= 0 {
			chunk = p[:nl]
		}
		if !w.dropping {
			room := maxLogLine - len(w.buf)
			if len(chunk) > room {
				w.buf = append(w.buf, chunk[:room]...)
				w.emit(true)
				w.dropping = true
			} else {
				w.buf = append(w.buf, chunk...)
			}
		}
		if nl < 0 {
			break
		}
		if !w.dropping {
			w.emit(false)
		}
		w.dropping = false
		p = p[nl+1:]
	}
	return n, nil
}

func (w *lineWriter) emit(truncated bool) {
	line := string(w.buf)
	w.buf = w.buf[:0]
	w.last = line
	if truncated {
		w.log.Log(context.Background(), w.level, line, "truncated", true)
		return
	}
	w.log.Log(context.Background(), w.level, line)
}

// flush logs a pending partial line.
func (w *lineWriter) flush() {
	if len(w.buf) > 0 && !w.dropping {
		w.emit(false)
	}
	w.buf, w.dropping = nil, false
}
