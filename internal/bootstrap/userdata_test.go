package bootstrap

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func input() Input {
	return Input{Cluster: "demo.k8s.local", InstanceGroup: "nodes", Role: "Node",
		StateStore: "s3://state/clusters", AgentURL: "https://example.com/kapstan"}
}

// TestUserDataRunsNodeup: the script ends by running nodeup on the whole
// machine for its group, with the store it reads from in the environment,
// and is the same for the same input.
func TestUserDataRunsNodeup(t *testing.T) {
	a, err := UserData(input())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := UserData(input())
	if a != b {
		t.Error("UserData is not deterministic")
	}
	for _, want := range []string{
		`export KAPSTAN_STATE_STORE="s3://state/clusters"`,
		`exec /opt/kapstan/bin/kapstan nodeup --cluster "demo.k8s.local" --instance-group "nodes" --root /` + "\n",
	} {
		if !strings.Contains(a, want) {
			t.Errorf("boot script lacks %q:\n%s", want, a)
		}
	}
	if strings.Contains(a, "sha256sum") {
		t.Error("a script without an agent hash checks one")
	}
	if out, err := exec.Command("bash", "-n", "-c", a).CombinedOutput(); err != nil {
		t.Errorf("bash -n: %v\n%s", err, out)
	}
}

// TestUserDataChecksTheAgent runs the check line the script gets with a
// hash, against a matching and a tampered download.
func TestUserDataChecksTheAgent(t *testing.T) {
	agent := []byte("#!/bin/sh\necho agent\n")
	sum := sha256.Sum256(agent)
	in := input()
	in.AgentSHA256 = hex.EncodeToString(sum[:])
	script, err := UserData(in)
	if err != nil {
		t.Fatal(err)
	}
	var check string
	for _, l := range strings.Split(script, "\n") {
		if strings.Contains(l, "sha256sum") {
			check = l
		}
	}
	if check == "" {
		t.Fatalf("no sha256sum line:\n%s", script)
	}
	dir := t.TempDir()
	check = strings.ReplaceAll(check, "/opt/kapstan/bin", dir)
	download := filepath.Join(dir, "kapstan.download")
	for _, tc := range []struct {
		content []byte
		ok      bool
	}{{agent, true}, {append(agent, '#'), false}} {
		if err := os.WriteFile(download, tc.content, 0o644); err != nil {
			t.Fatal(err)
		}
		err := exec.Command("bash", "-c", "set -o errexit -o pipefail; "+check).Run()
		if (err == nil) != tc.ok {
			t.Errorf("check of %q: %v, want ok=%v", tc.content, err, tc.ok)
		}
	}
	in.AgentSHA256 = "abc"
	if _, err := UserData(in); err == nil {
		t.Error("a malformed hash was accepted")
	}
}
