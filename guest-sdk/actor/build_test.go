//go:build !wasip1

package actor

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/wasmactor/wasmactor/internal/guestbuild"
	"github.com/wasmactor/wasmactor/internal/guestbuild/guestbuildtest"
)

// goCmd runs the go command for wasip1/wasm from the module root.
func goCmd(t *testing.T, args ...string) string {
	t.Helper()
	root, err := guestbuild.RepoRoot()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go %s:\n%s", strings.Join(args, " "), out)
	return string(out)
}

// TestGuestSDKDependencies keeps guest code small and auditable: what is
// compiled into guests may import only the standard library and
// fxamacker/cbor (with its float16 dependency).
func TestGuestSDKDependencies(t *testing.T) {
	out := goCmd(t, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", "./guest-sdk/...")
	var seen []string
	for _, dep := range strings.Fields(out) {
		seen = append(seen, dep)
		switch {
		case strings.HasPrefix(dep, "github.com/wasmactor/wasmactor/guest-sdk/"),
			dep == "github.com/fxamacker/cbor/v2",
			dep == "github.com/x448/float16":
		default:
			t.Errorf("guest-sdk depends on %s, outside the standard library and fxamacker/cbor", dep)
		}
	}
	require.Contains(t, seen, "github.com/wasmactor/wasmactor/guest-sdk/actor", "go list saw the SDK")
	require.Contains(t, seen, "github.com/fxamacker/cbor/v2")
}

// TestWasip1Build checks that the SDK compiles and vets for the guest
// target, and that a guest using it links into a module.
func TestWasip1Build(t *testing.T) {
	goCmd(t, "vet", "./guest-sdk/...")
	goCmd(t, "build", "./guest-sdk/...")
	wasm := guestbuildtest.Build(t, "guest-sdk/actor/testdata/e2e")
	require.Equal(t, []byte("\x00asm"), wasm[:4])
}
