package main

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unicode"

	"github.com/wasmactor/wasmactor/host"
)

// limitsHelp is the --limit flag's help: every host.Limits field by the
// name the flag and the metric wasmactor_limit_refusals_total use.
func limitsHelp() string {
	return "a limit on what actors may make the node hold, NAME=VALUE (repeatable, or comma-separated); " +
		"0 keeps the default; sizes take KiB, MiB or GiB. NAMEs: " + strings.Join(limitNames(), ", ")
}

// limitNames are the host.Limits fields in snake case.
func limitNames() []string {
	t := reflect.TypeFor[host.Limits]()
	names := make([]string, t.NumField())
	for i := range t.NumField() {
		names[i] = snakeCase(t.Field(i).Name)
	}
	return names
}

// setLimits applies --limit NAME=VALUE settings to l.
func setLimits(l *host.Limits, settings []string) error {
	v := reflect.ValueOf(l).Elem()
	for _, s := range settings {
		name, value, ok := strings.Cut(s, "=")
		if !ok {
			return usageErrorf("--limit %q: want NAME=VALUE", s)
		}
		i := indexOf(limitNames(), strings.TrimSpace(name))
		if i < 0 {
			return usageErrorf("--limit %q: unknown limit; the limits are %s", s, strings.Join(limitNames(), ", "))
		}
		n, err := parseSize(strings.TrimSpace(value))
		if err != nil {
			return usageErrorf("--limit %q: %v", s, err)
		}
		f := v.Field(i)
		if f.OverflowInt(n) {
			return usageErrorf("--limit %q: too large", s)
		}
		f.SetInt(n)
	}
	return nil
}

func indexOf(names []string, name string) int {
	for i, n := range names {
		if n == name {
			return i
		}
	}
	return -1
}

// parseSize reads a non-negative integer, optionally with a KiB, MiB or GiB
// suffix.
func parseSize(s string) (int64, error) {
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}} {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("want a non-negative number, optionally with KiB, MiB or GiB")
	}
	if n > (1<<63-1)/mult {
		return 0, fmt.Errorf("too large")
	}
	return n * mult, nil
}

// snakeCase turns a Go field name into the flag's and the metric's name:
// PendingAsksPerActor is pending_asks_per_actor.
func snakeCase(s string) string {
	var b strings.Builder
	for i, r := range s {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}
