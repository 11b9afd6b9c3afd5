//go:build unix

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor/internal/proto"
	"github.com/wasmactor/wasmactor/registry"
)

// TestDeployFromAPipe: deploy reads a FIFO (what <(curl ...) and
// /dev/stdin are) whole and deploys its bytes, and refuses one that is
// not a module before contacting the node.
func TestDeployFromAPipe(t *testing.T) {
	dir := t.TempDir()
	body := append(append([]byte{}, wasmMagic...), make([]byte, proto.ChunkSize+10)...) // two chunks
	fifo := func(name string, content []byte) string {
		path := filepath.Join(dir, name)
		require.NoError(t, syscall.Mkfifo(path, 0o600))
		done := make(chan error, 1)
		go func() {
			w, err := os.OpenFile(path, os.O_WRONLY, 0) // waits for the reader
			if err == nil {
				_, err = w.Write(content)
				err = errors.Join(err, w.Close())
			}
			done <- err
		}()
		t.Cleanup(func() { require.NoError(t, <-done) })
		return path
	}

	f := newFake(t)
	info := registry.ModuleInfo{Hash: registry.HashOf(body), Size: int64(len(body)), Factories: []string{"Counter"}, DeployedAt: 1}
	f.handle = chunkedDeploy(t, func(wasm []byte) ([]byte, error) {
		require.Equal(t, body, wasm)
		return proto.Marshal(info), nil
	})
	r := f.run(t, "deploy", fifo("module.pipe", body))
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, fmt.Sprintf("deployed %s (%s)\nfactories: Counter\n", info.Hash, humanSize(info.Size)), r.stdout)

	f = newFake(t)
	r = f.run(t, "deploy", fifo("text.pipe", []byte("#!/bin/sh\n")))
	require.Equal(t, exitRejected, r.code)
	require.Contains(t, r.stderr, "is not a WebAssembly module")
	require.Empty(t, f.dialed)
}
