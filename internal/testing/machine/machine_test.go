package machine

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestMachineBoots boots one machine: systemd comes up, the user-data runs
// once, reaches the metadata service with an IMDSv2 token and a service on
// the host through the gateway, and Stop and Close leave nothing behind.
//
// It needs root, runc and the cached root file system; without them it
// fails with the command to run (`sudo make machine-rootfs`).
func TestMachineBoots(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a machine (about 10 s)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	n := NewNetwork(t, NetworkConfig{CIDR: netip.MustParsePrefix("10.213.0.0/16")})

	// A service on host loopback, as moto is, exposed on the gateway.
	hostL, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hostSrv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "hello from the host")
	})}
	go func() { _ = hostSrv.Serve(hostL) }()
	t.Cleanup(func() { hostSrv.Close() })
	exposed, err := n.Expose(hostL.Addr().String())
	if err != nil {
		t.Fatal(err)
	}

	userData := `#!/bin/bash
set -euo pipefail
echo ran > /root/user-data-ran
imds=http://169.254.169.254
token=$(curl -sSf -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' $imds/latest/api/token)
curl -sSf -H "X-aws-ec2-metadata-token: $token" $imds/latest/meta-data/instance-id > /root/instance-id
curl -sSf -H "X-aws-ec2-metadata-token: $token" $imds/latest/dynamic/instance-identity/document > /root/identity.json
curl -s -o /dev/null -w '%{http_code}' $imds/latest/meta-data/instance-id > /root/imdsv1-status
curl -sSf http://` + exposed.String() + `/ > /root/from-host
`
	inst := Instance{
		ID:               "i-0a1b2c3d4e5f60718",
		Region:           "us-east-1",
		AvailabilityZone: "us-east-1a",
		PrivateIP:        netip.MustParsePrefix("10.213.1.10/24"),
		InstanceType:     "t3.medium",
		Role:             "nodes.test.example.com",
		UserData:         []byte(userData),
	}

	start := time.Now()
	m, err := n.Start(ctx, inst)
	if err != nil {
		t.Fatal(err)
	}
	started := time.Since(start)
	// A second machine in another subnet, without user-data.
	other, err := n.Start(ctx, Instance{
		ID: "i-0fedcba9876543210", Region: "us-east-1", AvailabilityZone: "us-east-1b",
		PrivateIP: netip.MustParsePrefix("10.213.2.10/24"),
	})
	if err != nil {
		t.Fatal(err)
	}
	state, err := m.WaitRunning(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("runc run took %s; systemd %q %s after the start", started.Round(time.Millisecond), state, time.Since(start).Round(time.Millisecond))
	if _, err := other.WaitRunning(ctx); err != nil {
		t.Fatal(err)
	}
	// Machines reach each other across subnets: a refused connection
	// (curl exit 7), not a timeout (28).
	if out, _ := m.Exec(ctx, "sh", "-c", "curl -s -m 5 http://10.213.2.10:1/; echo $?"); strings.TrimSpace(string(out)) != "7" {
		t.Errorf("machine to machine: curl exit %q, want 7 (connection refused)", out)
	}
	if d := other.Diagnostics(ctx); !strings.Contains(d, "--- journal") || !strings.Contains(d, "Reached target") {
		t.Errorf("diagnostics lack the journal:\n%s", d)
	}
	if err := other.Stop(); err != nil {
		t.Fatal(err)
	}
	if state != "running" {
		failed, _ := m.Exec(ctx, "systemctl", "--failed", "--no-legend", "--plain")
		t.Logf("system %s; failed units:\n%s", state, failed)
	}
	if out, err := m.Exec(ctx, "systemctl", "is-active", userDataUnitName); err != nil {
		t.Fatalf("user-data unit %s: %v\n%s", strings.TrimSpace(string(out)), err, m.Diagnostics(ctx))
	}

	for path, want := range map[string]string{
		"/root/user-data-ran":       "ran\n",
		"/root/instance-id":         inst.ID,
		"/root/imdsv1-status":       "401",
		"/root/from-host":           "hello from the host",
		"/etc/hostname":             "ip-10-213-1-10.ec2.internal\n",
		"/proc/sys/kernel/hostname": "ip-10-213-1-10.ec2.internal\n",
	} {
		got, err := m.Exec(ctx, "cat", path)
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		if string(got) != want {
			t.Errorf("%s = %q, want %q", path, got, want)
		}
	}
	doc, err := m.Exec(ctx, "cat", "/root/identity.json")
	if err != nil || !strings.Contains(string(doc), `"privateIp": "10.213.1.10"`) || !strings.Contains(string(doc), `"availabilityZone": "us-east-1a"`) {
		t.Errorf("identity document: %v\n%s", err, doc)
	}
	// The user-data ran once and logged like cloud-init.
	if log, err := os.ReadFile(m.RootFS() + UserDataLogPath); err != nil || !strings.Contains(string(log), "user-data exited with 0") {
		t.Errorf("%s: %v\n%s", UserDataLogPath, err, log)
	}
	// The machine sits in /machines/ID in every cgroup hierarchy.
	if cg, err := m.Exec(ctx, "cat", "/proc/1/cgroup"); err != nil || strings.Contains(string(cg), "/machines") {
		t.Errorf("PID 1's cgroups should be namespaced (/ inside): %v\n%s", err, cg)
	}
	if got := len(machineCgroups(m.ID)); got < 9 {
		t.Errorf("machine in %d cgroup hierarchies, want every one: %q", got, machineCgroups(m.ID))
	}
	if _, err := os.Stat(netnsPath(m.ID)); err != nil {
		t.Errorf("network namespace: %v", err)
	}

	stop := time.Now()
	if err := m.Stop(); err != nil {
		t.Fatal(err)
	}
	t.Logf("stop took %s", time.Since(stop).Round(time.Millisecond))
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if left := n.Leftovers(ctx); len(left) > 0 {
		t.Errorf("left behind after Close:\n%s", strings.Join(left, "\n"))
	}
	// The same, as an operator would look.
	if out, _ := exec.Command("ip", "netns", "list").Output(); strings.Contains(string(out), m.ID) {
		t.Errorf("ip netns list still shows %s:\n%s", m.ID, out)
	}
	if out, _ := exec.Command("runc", "list", "-q").Output(); strings.Contains(string(out), m.ID) {
		t.Errorf("runc list still shows %s:\n%s", m.ID, out)
	}
	if mounts, _ := os.ReadFile("/proc/self/mounts"); strings.Contains(string(mounts), workDirPrefix+fmt.Sprint(os.Getpid())) {
		t.Errorf("mounts left under the work dir:\n%s", mounts)
	}
}
