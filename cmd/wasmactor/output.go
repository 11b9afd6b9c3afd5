package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/wasmactor/wasmactor"
)

// format is the value of -o: text for people, json for programs. JSON field
// names are part of the CLI's contract and never change meaning.
type format string

const (
	formatText format = "text"
	formatJSON format = "json"
)

func (f *format) String() string { return string(*f) }
func (f *format) Type() string   { return "text|json" }
func (f *format) Set(s string) error {
	switch format(s) {
	case formatText, formatJSON:
		*f = format(s)
		return nil
	}
	return fmt.Errorf("output format must be text or json, not %q", s)
}

// addFormatFlag gives cmd its -o flag. It is per command rather than
// persistent because build's -o also names the output file, as in go build
// (buildflags.go).
func addFormatFlag(cmd *cobra.Command, f *format) {
	*f = formatText
	cmd.Flags().VarP(f, "output", "o", "output format: text or json")
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table writes aligned columns: a header row, then rows.
func table(w io.Writer, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// incarnation prints as 16 hex digits: short, fixed width, and safe from the
// 53-bit integer limit of JSON readers such as JavaScript.
func incarnation(v uint64) string { return wasmactor.FormatIncarnation(v) }

// pidJSON is a PID in JSON output: its text form plus its parts.
type pidJSON struct {
	PID         string `json:"pid"`
	Node        string `json:"node"`
	Incarnation string `json:"incarnation"`
	Serial      uint64 `json:"serial"`
}

func pidOut(p wasmactor.PID) pidJSON {
	return pidJSON{PID: p.String(), Node: p.Node, Incarnation: incarnation(p.Incarnation), Serial: p.Serial}
}

func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// humanSize prints a byte count the way people read module sizes.
func humanSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
