package registry

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/cbormode"
)

// Limits on factory names, from the guest ABI (docs/abi.md).
const (
	maxFactories      = 256
	maxFactoryNameLen = 128
)

// ModuleInfo describes one deployed module. It is what a deploy announces to
// the cluster and what the disk store keeps beside each blob.
type ModuleInfo struct {
	Hash      Hash     `cbor:"1,keyasint" json:"hash"`
	Size      int64    `cbor:"2,keyasint" json:"size"`
	Factories []string `cbor:"3,keyasint" json:"factories"`
	// DeployedAt is the deploy time in unix nanoseconds at the deploying
	// node. The newest deploy of a factory wins; ties go to the larger hash.
	DeployedAt int64 `cbor:"4,keyasint" json:"deployed_at"`
}

// Validate checks what every node relies on: a non-zero hash, a sane size and
// factory names that follow the ABI (at most 256, each 1..128 bytes of
// [A-Za-z0-9_.-], no duplicates).
func (m ModuleInfo) Validate() error {
	if m.Hash.IsZero() {
		return fmt.Errorf("%w: module info has no hash", wasmactor.ErrBadArgument)
	}
	if m.Size < 0 {
		return fmt.Errorf("%w: module %s has negative size %d", wasmactor.ErrBadArgument, m.Hash.Short(), m.Size)
	}
	if len(m.Factories) > maxFactories {
		return fmt.Errorf("%w: module %s exports %d factories, at most %d allowed", wasmactor.ErrBadArgument, m.Hash.Short(), len(m.Factories), maxFactories)
	}
	seen := make(map[string]struct{}, len(m.Factories))
	for _, f := range m.Factories {
		if err := ValidateFactory(f); err != nil {
			return fmt.Errorf("module %s: %w", m.Hash.Short(), err)
		}
		if _, dup := seen[f]; dup {
			return fmt.Errorf("%w: module %s lists factory %q twice", wasmactor.ErrBadArgument, m.Hash.Short(), f)
		}
		seen[f] = struct{}{}
	}
	return nil
}

// ValidateFactory checks a factory name against the ABI's rule: 1..128 bytes
// of [A-Za-z0-9_.-].
func ValidateFactory(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty factory name", wasmactor.ErrBadArgument)
	}
	if len(name) > maxFactoryNameLen {
		return fmt.Errorf("%w: factory name %q is %d bytes, at most %d allowed", wasmactor.ErrBadArgument, clip(name), len(name), maxFactoryNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-') {
			return fmt.Errorf("%w: factory name %q has %q at byte %d; allowed are A-Z a-z 0-9 _ . -", wasmactor.ErrBadArgument, clip(name), c, i)
		}
	}
	return nil
}

// normalized returns a copy with its own, sorted factory slice, so stored
// infos never alias a caller's slice and compare equal across nodes.
func (m ModuleInfo) normalized() ModuleInfo {
	m.Factories = slices.Clone(m.Factories)
	slices.Sort(m.Factories)
	return m
}

// newer reports whether a wins over b as "the newest module": the later
// deploy, then the larger hash. Every node applies the same rule.
func newer(a, b ModuleInfo) bool {
	if a.DeployedAt != b.DeployedAt {
		return a.DeployedAt > b.DeployedAt
	}
	return bytes.Compare(a.Hash[:], b.Hash[:]) > 0
}

// sortNewestFirst orders infos by [newer].
func sortNewestFirst(ms []ModuleInfo) {
	slices.SortFunc(ms, func(a, b ModuleInfo) int {
		switch {
		case newer(a, b):
			return -1
		case newer(b, a):
			return 1
		}
		return 0
	})
}

// EncodeModuleInfo encodes m in deterministic CBOR.
func EncodeModuleInfo(m ModuleInfo) ([]byte, error) { return cbormode.Deterministic().Marshal(m) }

// DecodeModuleInfo decodes and validates a ModuleInfo from untrusted bytes
// (disk or network) with strict CBOR options. Trailing bytes are an error.
func DecodeModuleInfo(b []byte) (ModuleInfo, error) {
	var m ModuleInfo
	if err := cbormode.Strict().Unmarshal(b, &m); err != nil {
		return ModuleInfo{}, fmt.Errorf("%w: module info: %v", wasmactor.ErrBadArgument, err)
	}
	if err := m.Validate(); err != nil {
		return ModuleInfo{}, err
	}
	return m.normalized(), nil
}
