package nodeup

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
)

// This file is what nodeup does on a real machine (--root /): EBS through
// the EC2 API, file systems and mounts with the usual Linux tools, and
// services through systemctl. None of it runs in --root DIR mode, and only
// AWSVolumes' EC2 logic is tested (against moto); the rest needs a machine.

// MachineOptions are the Volumes and Services of the EC2 instance nodeup
// runs on: its identity comes from the instance metadata service, AWS
// credentials from its instance profile.
func MachineOptions(ctx context.Context) (Volumes, Services, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("loading AWS configuration: %w", err)
	}
	doc, err := imds.NewFromConfig(cfg).GetInstanceIdentityDocument(ctx, &imds.GetInstanceIdentityDocumentInput{})
	if err != nil {
		return nil, nil, fmt.Errorf("reading this instance's identity from the metadata service: %w", err)
	}
	cfg.Region = doc.Region
	return &AWSVolumes{EC2: ec2.NewFromConfig(cfg), InstanceID: doc.InstanceID, Zone: doc.AvailabilityZone, Disk: LinuxDisk{}},
		Systemd{}, nil
}

// LinuxDisk formats with mkfs.ext4 and mounts with mount(8).
type LinuxDisk struct{}

var _ Disk = LinuxDisk{}

// FormatAndMount implements Disk.
func (LinuxDisk) FormatAndMount(ctx context.Context, volumeID, device, mountPath string) error {
	dev, err := waitForDevice(ctx, volumeID, device)
	if err != nil {
		return err
	}
	if mounted, err := isMountPoint(mountPath); err != nil || mounted {
		return err
	}
	// blkid exits 2 when the device has no file system: a new volume.
	out, err := exec.CommandContext(ctx, "blkid", "-o", "value", "-s", "TYPE", dev).Output()
	if strings.TrimSpace(string(out)) == "" {
		if ee, ok := err.(*exec.ExitError); err != nil && (!ok || ee.ExitCode() != 2) {
			return fmt.Errorf("blkid %s: %w", dev, err)
		}
		if out, err := exec.CommandContext(ctx, "mkfs.ext4", "-q", "-L", "etcd", dev).CombinedOutput(); err != nil {
			return fmt.Errorf("mkfs.ext4 %s: %w: %s", dev, err, out)
		}
	}
	if err := os.MkdirAll(mountPath, 0o700); err != nil {
		return fmt.Errorf("mounting %s: %w", dev, err)
	}
	if out, err := exec.CommandContext(ctx, "mount", "-o", "defaults,noatime", dev, mountPath).CombinedOutput(); err != nil {
		return fmt.Errorf("mount %s %s: %w: %s", dev, mountPath, err, out)
	}
	return nil
}

// waitForDevice finds the volume's block device: on Nitro instances an
// NVMe device whose by-id name carries the volume id, on Xen the name it
// was attached as (/dev/sdX may appear as /dev/xvdX).
func waitForDevice(ctx context.Context, volumeID, device string) (string, error) {
	candidates := []string{
		"/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_" + strings.ReplaceAll(volumeID, "-", ""),
		device,
	}
	for {
		for _, c := range candidates {
			if p, err := filepath.EvalSymlinks(c); err == nil {
				return p, nil
			}
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("waiting for the block device of %s (%v): %w", volumeID, candidates, ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

func isMountPoint(path string) (bool, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false, fmt.Errorf("reading mounts: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) > 4 && fields[4] == path {
			return true, nil
		}
	}
	return false, sc.Err()
}

// Systemd applies changes with systemctl: a daemon-reload, then a restart
// of containerd when its configuration changed and of the kubelet when
// anything it reads changed. The kubelet picks up static pod manifests by
// itself.
type Systemd struct{}

var _ Services = Systemd{}

// Apply implements Services.
func (Systemd) Apply(ctx context.Context, changed []string) error {
	run := func(args ...string) error {
		if out, err := exec.CommandContext(ctx, "systemctl", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("systemctl %s: %w: %s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	if err := run("daemon-reload"); err != nil {
		return err
	}
	// br_netfilter must be loaded before its sysctls exist.
	if slices.Contains(changed, ModulesPath) {
		if err := run("restart", "systemd-modules-load"); err != nil {
			return err
		}
	}
	if slices.Contains(changed, SysctlPath) || slices.Contains(changed, ModulesPath) {
		if out, err := exec.CommandContext(ctx, "sysctl", "--system").CombinedOutput(); err != nil {
			return fmt.Errorf("sysctl --system: %w: %s", err, out)
		}
	}
	if slices.Contains(changed, ContainerdConfigPath) {
		if err := run("enable", "containerd"); err != nil {
			return err
		}
		if err := run("restart", "containerd"); err != nil {
			return err
		}
	}
	kubelet := slices.ContainsFunc(changed, func(p string) bool {
		return !strings.HasPrefix(p, ManifestsDir+"/") && p != SysctlPath && p != ModulesPath
	})
	if kubelet {
		if err := run("enable", "kubelet"); err != nil {
			return err
		}
		return run("restart", "kubelet")
	}
	return nil
}
