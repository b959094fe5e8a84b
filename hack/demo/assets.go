package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/kapstan/kapstan/internal/assets"
	"github.com/kapstan/kapstan/internal/testing/standin"
)

// seedMirror fills the cluster's asset mirror, as a user does before the
// first plan: plans take the node agent's URL and SHA-256 from the bill of
// materials that `get assets --copy` writes. The agent is the real one,
// built from cmd/nodeup; every other file is a small stand-in, since no
// machine boots in the demo (moto's instances run nothing).
func seedMirror(ctx context.Context, bin string, env []string) error {
	fmt.Printf("$ kapstan get assets %s -o json\n", cluster)
	cmd := exec.CommandContext(ctx, bin, "get", "assets", cluster, "-o", "json")
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("kapstan get assets %s -o json: %w", cluster, err)
	}
	var list assets.BOM
	if err := json.Unmarshal(out.Bytes(), &list); err != nil {
		return fmt.Errorf("reading the asset list: %w", err)
	}
	fmt.Printf("# %d assets; building the node agent for the mirror\n", len(list.Assets))

	from, err := os.MkdirTemp("", "kapstan-demo-assets-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(from)
	agent := filepath.Join(from, "nodeup.build")
	build := exec.CommandContext(ctx, "go", "build", "-o", agent, "github.com/kapstan/kapstan/cmd/nodeup")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+assets.Arch)
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building the node agent (go build ./cmd/nodeup): %w", err)
	}
	n, err := standin.Fill(from, list.Assets, map[string]string{assets.NameNodeup: agent})
	if err != nil {
		return err
	}
	fmt.Printf("# The agent is real; the other %d files are stand-ins: no machine boots in the demo.\n\n", n)
	return kapstanStep(ctx, bin, env, "get", "assets", cluster, "--copy", "--from", from)
}
