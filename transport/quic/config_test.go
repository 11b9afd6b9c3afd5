package quic

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor"
)

func TestConfigDefaultsAndValidation(t *testing.T) {
	cfg := Config{Name: "n1", Cookie: testCookie}
	c, err := cfg.validate()
	require.NoError(t, err)
	require.Equal(t, DefaultListen, c.Listen)
	require.Equal(t, DefaultIdleTimeout, c.IdleTimeout)
	require.Equal(t, DefaultIdleTimeout/4, c.KeepAlive)
	require.Equal(t, DefaultLanes, c.Lanes)
	require.Equal(t, DefaultMaxFrame, c.MaxFrame)
	require.Equal(t, DefaultMaxFrame+64<<10, c.MaxClientRequest, "a client's request: a frame and some envelope")
	require.Equal(t, DefaultUnauthenticated, c.MaxUnauthenticated)
	require.Equal(t, DefaultUnauthPerIP, c.MaxUnauthenticatedPerIP)
	require.Equal(t, DefaultMaxMembers, c.MaxMembers)
	require.NotZero(t, c.Incarnation)
	require.NotNil(t, c.StatelessResetKey)
	require.Equal(t, Config{Name: "n1", Cookie: testCookie}, cfg, "the caller's value is never modified")

	// The stateless reset key is stable per (cookie, name) so a restarted
	// node can reset its previous incarnation's connections.
	c2, err := cfg.validate()
	require.NoError(t, err)
	require.Equal(t, *c.StatelessResetKey, *c2.StatelessResetKey)
	require.NotEqual(t, c.Incarnation, c2.Incarnation)
	other := cfg
	other.Name = "n2"
	c3, err := other.validate()
	require.NoError(t, err)
	require.NotEqual(t, *c.StatelessResetKey, *c3.StatelessResetKey)

	// The cookie is copied.
	cookie := append([]byte(nil), testCookie...)
	c4, err := Config{Name: "n", Cookie: cookie}.validate()
	require.NoError(t, err)
	cookie[0] ^= 0xff
	require.Equal(t, testCookie, c4.Cookie)

	bad := []struct {
		name string
		mod  func(*Config)
	}{
		{"no name", func(c *Config) { c.Name = "" }},
		{"name with space", func(c *Config) { c.Name = "a b" }},
		{"name with angle bracket", func(c *Config) { c.Name = "<a>" }},
		{"long name", func(c *Config) { c.Name = strings.Repeat("x", 200) }},
		{"short cookie", func(c *Config) { c.Cookie = []byte("short") }},
		{"keep-alive not below idle", func(c *Config) { c.KeepAlive = 10 * time.Second }},
		{"negative timeout", func(c *Config) { c.HandshakeTimeout = -1 }},
		{"too many lanes", func(c *Config) { c.Lanes = MaxLanes + 1 }},
		{"tiny frame cap", func(c *Config) { c.MaxFrame = 100 }},
		{"partial TLS files", func(c *Config) { c.CertFile = "x.pem" }},
		{"backoff inverted", func(c *Config) { c.ReconnectMin, c.ReconnectMax = time.Second, time.Millisecond }},
		{"negative queue", func(c *Config) { c.SendQueue = -1 }},
		{"per-address bound over the total", func(c *Config) { c.MaxUnauthenticated, c.MaxUnauthenticatedPerIP = 4, 5 }},
		{"negative unauthenticated bound", func(c *Config) { c.MaxUnauthenticated = -1 }},
		{"negative member bound", func(c *Config) { c.MaxMembers = -1 }},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			c := Config{Name: "n", Cookie: testCookie}
			b.mod(&c)
			_, err := New(c)
			require.ErrorIs(t, err, wasmactor.ErrBadArgument)
		})
	}
	_, err = New(Config{Name: "n", Cookie: testCookie, Listen: "0.0.0.0:0"})
	require.ErrorIs(t, err, wasmactor.ErrBadArgument, "an unspecified listen address needs Advertise")
}

func TestLoadOrCreateCookie(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "data", "cookie")
	c1, err := LoadOrCreateCookie(path)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(c1), 2*cookieBytes)
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	c2, err := LoadOrCreateCookie(path)
	require.NoError(t, err)
	require.Equal(t, c1, c2, "the cookie persists")

	other, err := LoadOrCreateCookie(filepath.Join(dir, "other"))
	require.NoError(t, err)
	require.NotEqual(t, c1, other)

	require.NoError(t, os.Chmod(path, 0o640))
	_, err = LoadOrCreateCookie(path)
	require.ErrorIs(t, err, wasmactor.ErrBadArgument)
	require.Contains(t, err.Error(), "chmod 600")
	require.NotContains(t, err.Error(), string(c1), "errors never show the cookie")
	require.NoError(t, os.Chmod(path, 0o604))
	_, err = LoadOrCreateCookie(path)
	require.ErrorIs(t, err, wasmactor.ErrBadArgument)

	short := filepath.Join(dir, "short")
	require.NoError(t, os.WriteFile(short, []byte("abc\n"), 0o600))
	_, err = LoadOrCreateCookie(short)
	require.ErrorIs(t, err, wasmactor.ErrBadArgument)
	require.NotContains(t, err.Error(), "abc")

	own := filepath.Join(dir, "own")
	require.NoError(t, os.WriteFile(own, []byte("  my-own-cluster-secret-value \n"), 0o600))
	c3, err := LoadOrCreateCookie(own)
	require.NoError(t, err)
	require.Equal(t, "my-own-cluster-secret-value", string(c3))
}
