package engine

import (
	"fmt"
	"strings"
)

// Factory list limits (docs/abi.md, wasmactor_factories).
const (
	MaxFactories    = 256
	MaxFactoryBytes = 128
)

// ParseFactories decodes the factory list a guest returns from
// wasmactor_factories: UTF-8 names separated by '\n' (one trailing '\n' is
// tolerated), at most [MaxFactories] of them, each 1..[MaxFactoryBytes] bytes
// of [A-Za-z0-9_.-], no duplicates, at least one.
//
// The bytes come from an untrusted guest; the error says what is wrong and
// where, quoting at most a short, sanitised piece of the input.
func ParseFactories(list []byte) ([]string, error) {
	if len(list) > 0 && list[len(list)-1] == '\n' {
		list = list[:len(list)-1]
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("module exports no factories")
	}
	if n := 1 + countByte(list, '\n'); n > MaxFactories {
		return nil, fmt.Errorf("module exports %d factories, more than %d", n, MaxFactories)
	}
	names := strings.Split(string(list), "\n")
	for i, name := range names {
		if err := ValidFactoryName(name); err != nil {
			return nil, fmt.Errorf("factory %d: %w", i+1, err)
		}
		for _, prev := range names[:i] {
			if prev == name {
				return nil, fmt.Errorf("factory %q listed twice", name)
			}
		}
	}
	return names, nil
}

// ValidFactoryName reports why name is not a valid factory name (nil if it is):
// 1..128 bytes of [A-Za-z0-9_.-].
func ValidFactoryName(name string) error {
	if name == "" {
		return fmt.Errorf("empty factory name")
	}
	if len(name) > MaxFactoryBytes {
		return fmt.Errorf("factory name %q... is %d bytes, more than %d", name[:16], len(name), MaxFactoryBytes)
	}
	for i := 0; i < len(name); i++ {
		if !factoryByte(name[i]) {
			return fmt.Errorf("factory name %q has a byte (0x%02x) outside [A-Za-z0-9_.-]", sanitize(name), name[i])
		}
	}
	return nil
}

// validFactoryRef checks what a guest passes to spawn: Name or Name@hashprefix
// (1..64 lowercase or uppercase hex digits).
func validFactoryRef(ref string) bool {
	name, prefix, pinned := strings.Cut(ref, "@")
	if ValidFactoryName(name) != nil {
		return false
	}
	if !pinned {
		return true
	}
	if len(prefix) == 0 || len(prefix) > 64 {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		c := prefix[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func factoryByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '_' || c == '.' || c == '-'
}

// sanitize makes guest text safe to quote in an error: at most 40 bytes,
// with %q doing the escaping.
func sanitize(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

func countByte(b []byte, c byte) (n int) {
	for _, x := range b {
		if x == c {
			n++
		}
	}
	return n
}
