package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// binaryMetrics builds the CLI and the node agent as a release would
// (stripped) and records their sizes: the agent is what every machine
// downloads at boot, so it must stay small beside the CLI.
func binaryMetrics(r map[string]float64) error {
	dir, err := os.MkdirTemp("", "kapstan-bench-bin")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	size := func(pkg, name string) (float64, error) {
		out := filepath.Join(dir, name)
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", out, pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			return 0, fmt.Errorf("building %s: %w\n%s", pkg, err, b)
		}
		st, err := os.Stat(out)
		if err != nil {
			return 0, err
		}
		return float64(st.Size()) / 1e6, nil
	}
	cli, err := size("./cmd/kapstan", "kapstan")
	if err != nil {
		return err
	}
	agent, err := size("./cmd/nodeup", "nodeup")
	if err != nil {
		return err
	}
	r["binary_cli_mb"] = cli
	r["binary_agent_mb"] = agent
	r["binary_agent_vs_cli"] = agent / cli
	return nil
}
