package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// checkNodeArgs fails unless every --flag in args is a flag of
// `wasmactor node` (its own or a global one).
func checkNodeArgs(t *testing.T, node *cobra.Command, args []string, where string) {
	t.Helper()
	require.NotEmpty(t, args)
	require.Equal(t, "node", args[0], "%s runs `wasmactor node`", where)
	for _, a := range args[1:] {
		if !strings.HasPrefix(a, "--") {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		require.NotNil(t, node.Flags().Lookup(name), "%s passes --%s, which `wasmactor node` does not accept", where, name)
	}
}

// TestKubernetesManifestsMatchTheCLI: the manifests in deploy/ parse, hold
// what a cluster needs (a headless Service, a StatefulSet whose pods join
// through it, probes on /healthz and /readyz, a PodDisruptionBudget, the
// cookie from a Secret), and pass only flags the binary accepts. No cluster
// runs them here.
func TestKubernetesManifestsMatchTheCLI(t *testing.T) {
	f := newFake(t)
	root := (&app{deps: f.deps()}).rootCmd()
	node, _, err := root.Find([]string{"node"})
	require.NoError(t, err)
	node.InheritedFlags() // merge the global flags into node.Flags()
	node.Flags().AddFlagSet(root.PersistentFlags())

	raw, err := os.ReadFile(filepath.Join("..", "..", "deploy", "kubernetes", "wasmactor.yaml"))
	require.NoError(t, err)
	kinds := map[string]map[string]any{}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	for {
		var doc map[string]any
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			break
		} else {
			require.NoError(t, err)
		}
		kinds[doc["kind"].(string)] = doc
	}
	require.Contains(t, kinds, "Service")
	require.Contains(t, kinds, "StatefulSet")
	require.Contains(t, kinds, "PodDisruptionBudget")

	get := func(v any, path ...any) any {
		for _, p := range path {
			switch k := p.(type) {
			case string:
				v = v.(map[string]any)[k]
			case int:
				v = v.([]any)[k]
			}
		}
		return v
	}
	svc := kinds["Service"]
	require.Equal(t, "None", get(svc, "spec", "clusterIP"), "the Service is headless")
	svcName := get(svc, "metadata", "name").(string)

	sts := kinds["StatefulSet"]
	require.Equal(t, svcName, get(sts, "spec", "serviceName"))
	container := get(sts, "spec", "template", "spec", "containers", 0)
	var args []string
	for _, a := range get(container, "args").([]any) {
		args = append(args, a.(string))
	}
	checkNodeArgs(t, node, args, "the StatefulSet")
	joined := strings.Join(args, " ")
	require.Regexp(t, `--join=dns:`+regexp.QuoteMeta(svcName)+`\.`, joined, "pods join through the headless Service")
	require.Contains(t, joined, "--advertise=", "a pod listening on 0.0.0.0 advertises its IP")
	require.Contains(t, joined, "--http=0.0.0.0:9464")
	require.Equal(t, "/healthz", get(container, "livenessProbe", "httpGet", "path"))
	require.Equal(t, "/readyz", get(container, "readinessProbe", "httpGet", "path"))
	require.Equal(t, "wasmactor-cookie", get(sts, "spec", "template", "spec", "volumes", 0, "secret", "secretName"))

	// The Dockerfile's default command is a valid node command too.
	docker, err := os.ReadFile(filepath.Join("..", "..", "deploy", "Dockerfile"))
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^CMD \[(.*)\]$`).FindSubmatch(docker)
	require.NotNil(t, m, "the Dockerfile has a CMD")
	var cmd []string
	for _, part := range strings.Split(string(m[1]), ",") {
		cmd = append(cmd, strings.Trim(strings.TrimSpace(part), `"`))
	}
	checkNodeArgs(t, node, cmd, "the Dockerfile")
}
