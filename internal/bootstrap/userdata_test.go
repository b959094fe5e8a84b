package bootstrap

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/kapstan/kapstan/internal/testing/golden"
)

var agent = []byte("#!/bin/sh\necho agent\n")

func agentSHA256() string {
	sum := sha256.Sum256(agent)
	return hex.EncodeToString(sum[:])
}

func input() Input {
	return Input{Cluster: "demo.k8s.local", InstanceGroup: "nodes", Role: "Node",
		StateStore: "s3://state/clusters", AgentURL: "https://mirror.s3.us-east-1.amazonaws.com/kapstan/nodeup/v0.1.0/linux/amd64/nodeup",
		AgentSHA256: agentSHA256(), ConfigHash: strings.Repeat("ab", 32)}
}

// TestUserDataGolden compares a node's and a bastion's scripts with
// testdata/; both pass bash -n, and rendering is deterministic.
func TestUserDataGolden(t *testing.T) {
	bastion := input()
	bastion.InstanceGroup, bastion.Role, bastion.AgentURL, bastion.AgentSHA256, bastion.ConfigHash = "bastions", RoleBastion, "", "", ""
	for _, tc := range []struct {
		name string
		in   Input
	}{
		{"node", input()},
		{"bastion", bastion},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := UserData(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if b, _ := UserData(tc.in); a != b {
				t.Error("UserData is not deterministic")
			}
			if out, err := exec.Command("bash", "-n", "-c", a).CombinedOutput(); err != nil {
				t.Errorf("bash -n: %v\n%s", err, out)
			}
			golden.Assert(t, []byte(a), filepath.Join("testdata", tc.name+".sh"))
		})
	}
}

// TestUserDataRefuses: no script for a node without the agent's URL and
// hash, with credentials in the URL, or with values a unit would misread.
func TestUserDataRefuses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Input)
		want   string
	}{
		{"no agent hash", func(in *Input) { in.AgentSHA256 = "" }, "URL and SHA-256 are both needed"},
		{"no agent URL", func(in *Input) { in.AgentURL = "" }, "URL and SHA-256 are both needed"},
		{"malformed hash", func(in *Input) { in.AgentSHA256 = "abc" }, "64 lower-case hex"},
		{"upper-case hash", func(in *Input) { in.AgentSHA256 = strings.ToUpper(agentSHA256()) }, "64 lower-case hex"},
		{"presigned URL", func(in *Input) { in.AgentURL += "?X-Amz-Signature=abc" }, "credentials"},
		{"password in URL", func(in *Input) { in.AgentURL = "https://u:p@example.com/nodeup" }, "credentials"},
		{"s3 URL", func(in *Input) { in.AgentURL = "s3://mirror/nodeup" }, "https://"},
		{"file URL with a host", func(in *Input) { in.AgentURL = "file://host/mirror/nodeup" }, "absolute path"},
		{"relative file URL", func(in *Input) { in.AgentURL = "file:mirror/nodeup" }, "absolute path"},
		{"store URL with a space", func(in *Input) { in.StateStore = "s3://state/a b" }, "state store URL"},
		{"store URL with a specifier", func(in *Input) { in.StateStore = "s3://state/%n" }, "state store URL"},
		{"no store", func(in *Input) { in.StateStore = "" }, "state store URL"},
		{"cluster name with a quote", func(in *Input) { in.Cluster = "demo'; reboot" }, "must be names"},
		{"malformed config hash", func(in *Input) { in.ConfigHash = "x" }, "configuration hash"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := input()
			tc.change(&in)
			if _, err := UserData(in); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// TestUserDataAcceptsAgentURLs: the agent URLs a mirror gives: S3 on
// AWS, an overridden endpoint (moto, plain HTTP), an https:// mirror, and
// a file:// one (only planned or rendered, never booted).
func TestUserDataAcceptsAgentURLs(t *testing.T) {
	for _, tc := range []struct{ name, url string }{
		{"s3 on AWS", "https://mirror.s3.us-east-1.amazonaws.com/assets/kapstan/v0.1.0/linux/amd64/nodeup"},
		{"s3 endpoint", "http://127.0.0.1:5000/mirror/assets/kapstan/v0.1.0/linux/amd64/nodeup"},
		{"https mirror", "https://mirror.example.com/kapstan/v0.1.0/linux/amd64/nodeup"},
		{"file mirror", "file:///srv/mirror/kapstan/v0.1.0/linux/amd64/nodeup"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := input()
			in.AgentURL = tc.url
			got, err := UserData(in)
			if err != nil {
				t.Fatal(err)
			}
			if want := "agent_url='" + tc.url + "'\n"; !strings.Contains(got, want) {
				t.Errorf("the script does not set %q", want)
			}
		})
	}
}

// TestUserDataInstallsTheAgent runs the generated script against a local
// HTTP server, with its two folders moved to a temporary one and a fake
// systemctl first in PATH (curl and sha256sum are the real ones).
func TestUserDataInstallsTheAgent(t *testing.T) {
	for _, tc := range []struct {
		name     string
		serve    []byte
		failures int32 // 503s before the agent
		ok       bool
	}{
		{"agent", agent, 0, true},
		{"agent after a 503", agent, 1, true},
		{"tampered agent", append([]byte{agent[0] ^ 1}, agent[1:]...), 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var requests atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if requests.Add(1) <= tc.failures {
					http.Error(w, "busy", http.StatusServiceUnavailable)
					return
				}
				w.Write(tc.serve)
			}))
			t.Cleanup(srv.Close)
			in := input()
			in.AgentURL = srv.URL + "/kapstan/nodeup"
			script, err := UserData(in)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			agentDir, unitDir, bin := filepath.Join(dir, "opt/kapstan/bin"), filepath.Join(dir, "etc/systemd/system"), filepath.Join(dir, "bin")
			script = replaceLine(t, script, "agent_dir="+AgentDir, "agent_dir="+agentDir)
			script = replaceLine(t, script, "unit_dir="+UnitDir, "unit_dir="+unitDir)
			log := filepath.Join(dir, "systemctl.log")
			if err := os.MkdirAll(bin, 0o755); err != nil {
				t.Fatal(err)
			}
			fake := "#!/bin/sh\necho \"$@\" >> " + log + "\n"
			if err := os.WriteFile(filepath.Join(bin, "systemctl"), []byte(fake), 0o755); err != nil {
				t.Fatal(err)
			}

			run := func() (string, error) {
				cmd := exec.Command("bash", "-c", script)
				cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
				out, err := cmd.CombinedOutput()
				return string(out), err
			}
			out, err := run()
			if !tc.ok {
				if err == nil {
					t.Fatalf("a tampered agent was accepted:\n%s", out)
				}
				sum := sha256.Sum256(tc.serve)
				for _, want := range []string{agentSHA256(), hex.EncodeToString(sum[:]), in.AgentURL} {
					if !strings.Contains(out, want) {
						t.Errorf("output does not name %s:\n%s", want, out)
					}
				}
				for _, p := range []string{agentDir + "/nodeup", agentDir + "/nodeup-" + agentSHA256()[:12], unitDir + "/" + UnitName, log} {
					if _, err := os.Lstat(p); err == nil {
						t.Errorf("%s exists after a refused agent", p)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("script failed: %v\n%s", err, out)
			}
			got, err := os.ReadFile(filepath.Join(agentDir, "nodeup"))
			if err != nil || string(got) != string(agent) {
				t.Errorf("agent: %q, %v", got, err)
			}
			if target, _ := os.Readlink(filepath.Join(agentDir, "nodeup")); target != agentDir+"/nodeup-"+agentSHA256()[:12] {
				t.Errorf("nodeup links to %q", target)
			}
			unit, err := os.ReadFile(filepath.Join(unitDir, UnitName))
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{
				"ExecStart=" + AgentPath + " --cluster demo.k8s.local --instance-group nodes --root /\n",
				"Environment=KAPSTAN_STATE_STORE=s3://state/clusters\n",
				"Restart=on-failure\n",
			} {
				if !strings.Contains(string(unit), want) {
					t.Errorf("unit lacks %q:\n%s", want, unit)
				}
			}
			calls, _ := os.ReadFile(log)
			if want := "daemon-reload\nenable " + UnitName + "\nstart --no-block " + UnitName + "\n"; string(calls) != want {
				t.Errorf("systemctl calls:\n%s\nwant:\n%s", calls, want)
			}

			// A second boot finds the agent and downloads nothing.
			before := requests.Load()
			if out, err := run(); err != nil {
				t.Fatalf("second run: %v\n%s", err, out)
			}
			if n := requests.Load() - before; n != 0 {
				t.Errorf("second run downloaded %d times", n)
			}
		})
	}
}

// replaceLine replaces the line old of script with new.
func replaceLine(t *testing.T, script, old, new string) string {
	t.Helper()
	if !strings.Contains(script, "\n"+old+"\n") {
		t.Fatalf("script has no line %q", old)
	}
	return strings.Replace(script, "\n"+old+"\n", "\n"+new+"\n", 1)
}
