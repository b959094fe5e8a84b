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

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/kapstan/kapstan/internal/store"
)

// This file is what nodeup does on a real machine (--root /): EBS through
// the EC2 API, file systems and mounts with the usual Linux tools, and
// services through systemctl. None of it runs in --root DIR mode, and only
// AWSVolumes' EC2 logic is tested (against moto); the rest needs a machine.

// Machine is the EC2 instance nodeup runs on: its identity from the
// instance metadata service (IMDSv2), AWS clients in its region with its
// instance profile's credentials, its etcd volumes and its services.
type Machine struct {
	Identity Identity
	// AWS is the SDK configuration in the instance's region.
	AWS      aws.Config
	S3       *s3.Client
	Volumes  Volumes
	Services Services
}

// MachineOptions say how to reach the instance metadata service.
type MachineOptions struct {
	// IMDSEndpoint overrides the metadata service's address. Empty means
	// AWS_EC2_METADATA_SERVICE_ENDPOINT, else the SDK's default
	// (http://169.254.169.254).
	IMDSEndpoint string
	// Backoff retries the metadata service while it does not answer; the
	// zero value means [DefaultBackoff].
	Backoff Backoff
}

// NewMachine reads the instance's identity from the metadata service,
// waiting for it with backoff, and makes the AWS clients in its region.
// The credentials come from the instance profile, through the same
// metadata service.
func NewMachine(ctx context.Context, o MachineOptions) (*Machine, error) {
	b := o.Backoff
	if b == (Backoff{}) {
		b = DefaultBackoff()
	}
	id, err := InstanceIdentity(ctx, imds.New(imds.Options{Endpoint: o.IMDSEndpoint}), b)
	if err != nil {
		return nil, err
	}
	load := []func(*config.LoadOptions) error{config.WithRegion(id.Region)}
	if o.IMDSEndpoint != "" {
		// The instance profile's credentials come from the same service.
		load = append(load, config.WithEC2IMDSEndpoint(o.IMDSEndpoint))
	}
	cfg, err := config.LoadDefaultConfig(ctx, load...)
	if err != nil {
		return nil, fmt.Errorf("loading AWS configuration: %w", err)
	}
	return &Machine{
		Identity: id,
		AWS:      cfg,
		S3:       NewS3Client(cfg),
		Volumes:  &AWSVolumes{EC2: ec2.NewFromConfig(cfg), InstanceID: id.InstanceID, Zone: id.AvailabilityZone, Disk: LinuxDisk{}},
		Services: Systemd{},
	}, nil
}

// NewS3Client is an S3 client for cfg that works with AWS and with
// S3-compatible endpoints (AWS_ENDPOINT_URL_S3): path-style addressing,
// and response checksums validated only where an operation requires it.
func NewS3Client(cfg aws.Config) *s3.Client {
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.UsePathStyle = true
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
}

// OpenStore opens the state store at url on the machine: an s3:// store
// is read with the machine's client, in its region. Any other URL (a
// file:// store, in tests) is opened as usual.
func (m *Machine) OpenStore(ctx context.Context, url string) (store.Store, error) {
	loc, ok := strings.CutPrefix(url, "s3://")
	if !ok {
		return store.Open(ctx, url)
	}
	bucket, prefix, _ := strings.Cut(loc, "/")
	if bucket == "" {
		return nil, fmt.Errorf("opening store %s: no bucket", url)
	}
	return store.NewS3(m.S3, bucket, prefix), nil
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

// Systemd applies changes with systemctl. After a run that changed
// something it reloads unit files, loads kernel modules and sysctls when
// theirs changed, and restarts the units [UnitsToRestart] names. Every
// run then starts the units that are not running (enable --now restarts
// nothing), so a run interrupted after writing its files still ends with
// the services up. The kubelet picks up static pod manifests by itself.
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
	if len(changed) > 0 {
		if err := run("daemon-reload"); err != nil {
			return err
		}
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
	restart := UnitsToRestart(changed)
	for _, unit := range []string{UnitContainerd, UnitKubelet} {
		if err := run("enable", "--now", unit); err != nil {
			return err
		}
		if slices.Contains(restart, unit) {
			if err := run("restart", unit); err != nil {
				return err
			}
		}
	}
	return nil
}
