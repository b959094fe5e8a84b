package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kapstan/kapstan/internal/assets"
	"github.com/kapstan/kapstan/internal/newcluster"
	"github.com/kapstan/kapstan/internal/nodeup"
	"github.com/kapstan/kapstan/internal/pki"
	"github.com/kapstan/kapstan/internal/store"
)

// nodeConfigFile writes a worker's node configuration that installs a
// kubelet from a file:// mirror, and returns its path.
func nodeConfigFile(t *testing.T) string {
	t.Helper()
	m, err := newcluster.Build(newcluster.Options{Name: "agent.k8s.local", Zones: []string{"us-east-1a"}, ControlPlaneCount: 1, NodeCount: 1})
	if err != nil {
		t.Fatal(err)
	}
	s := store.NewMemory("")
	const lb = "api.example.com"
	if _, err := pki.Ensure(t.Context(), s, m, lb); err != nil {
		t.Fatal(err)
	}
	cfg, err := nodeup.Build(t.Context(), m, "nodes", pki.NewKeystore(s, "agent.k8s.local"), lb)
	if err != nil {
		t.Fatal(err)
	}
	mirror := t.TempDir()
	kubelet := []byte("kubelet 1.36.3")
	if err := os.WriteFile(filepath.Join(mirror, "kubelet"), kubelet, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(kubelet)
	cfg.AssetsMirror = "file://" + mirror
	cfg.Assets = []assets.Asset{{Name: "kubelet", Kind: assets.KindFile, Version: "1.36.3", Path: "kubelet", SHA256: hex.EncodeToString(sum[:])}}
	data, err := nodeup.Encode(cfg)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "nodeup.yaml")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// TestAgent runs the agent as its unit would, twice, under a --root
// folder, and checks its usage errors.
func TestAgent(t *testing.T) {
	file := nodeConfigFile(t)
	root := t.TempDir()
	noMachine := func(context.Context) (*nodeup.Machine, error) { return nil, errors.New("not on a machine") }
	getenv := func(string) string { return "" }
	for _, tc := range []struct {
		name string
		args []string
		code int
		out  string // in stdout, or stderr when code != 0
	}{
		{"first run", []string{"--config", file, "--root", root}, 0, nodeup.KubeletBinary},
		{"second run", []string{"--config", file, "--root", root}, 0, "no changes"},
		{"no root", []string{"--config", file}, 2, "--root is required"},
		{"no configuration", []string{"--root", root}, 2, "name the node configuration"},
		{"both", []string{"--config", file, "--cluster", "c", "--instance-group", "g", "--root", root}, 2, "alternatives"},
		{"stray argument", []string{"--config", file, "--root", root, "now"}, 2, "unexpected"},
		{"unknown flag", []string{"--colour"}, 2, "flag provided but not defined"},
		{"no store", []string{"--cluster", "c", "--instance-group", "g", "--root", root}, 1, "no state store"},
		{"the machine fails", []string{"--config", file, "--root", "/"}, 1, "not on a machine"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(t.Context(), tc.args, getenv, &stdout, &stderr, noMachine)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, &stdout, &stderr)
			}
			out := stdout.String()
			if code != 0 {
				out = stderr.String()
			}
			if !strings.Contains(out, tc.out) {
				t.Errorf("output lacks %q:\n%s", tc.out, out)
			}
		})
	}
	target, err := os.Readlink(filepath.Join(root, nodeup.KubeletBinary))
	if err != nil || target != nodeup.CurrentPath("kubelet")+"/kubelet" {
		t.Errorf("%s links to %q (%v)", nodeup.KubeletBinary, target, err)
	}
}
