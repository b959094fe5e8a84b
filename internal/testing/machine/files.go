package machine

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
)

// Paths inside a machine. The user-data layout is cloud-init's, so a
// script that looks for it finds it where it would on EC2.
const (
	UserDataPath      = "/var/lib/cloud/instance/user-data.txt"
	UserDataLogPath   = "/var/log/cloud-init-output.log"
	BootFinishedPath  = "/var/lib/cloud/instance/boot-finished"
	userDataRunner    = "/usr/local/lib/kapstan-machine/run-user-data"
	userDataUnitName  = "kapstan-user-data.service"
	userDataUnitPath  = "/etc/systemd/system/" + userDataUnitName
	userDataWantsPath = "/etc/systemd/system/multi-user.target.wants/" + userDataUnitName
)

// userDataUnit runs the user-data once per instance after the network is
// up, in place of cloud-init's cloud-final.service (also a oneshot, so
// `systemctl is-system-running` says "starting" until the script ends).
const userDataUnit = `[Unit]
Description=Run the instance user-data once (kapstan test machine, in place of cloud-init)
Wants=network-online.target
After=network-online.target
ConditionPathExists=!` + BootFinishedPath + `

[Service]
Type=oneshot
RemainAfterExit=yes
TimeoutStartSec=infinity
ExecStart=` + userDataRunner + `
StandardOutput=journal
StandardError=journal

[Install]
WantedBy=multi-user.target
`

// userDataRunnerScript does what cloud-init's scripts-user does with a
// shell-script user-data: gunzip if needed, run it, log its output to
// cloud-init-output.log, and mark the boot finished even if it failed.
// Other formats (#cloud-config, MIME multipart) are refused, loudly.
const userDataRunnerScript = `#!/bin/bash
# Runs the instance user-data once, as cloud-init's scripts-user would on
# EC2. Written by internal/testing/machine.
set -u -o pipefail
ud=` + UserDataPath + `
dir=$(dirname "$ud")
script=$dir/scripts/part-001
[ -s "$ud" ] || { echo "no user-data"; date -u >` + BootFinishedPath + `; exit 0; }
mkdir -p "$dir/scripts"
if gzip -t "$ud" 2>/dev/null; then gunzip -c "$ud" >"$script"; else cp "$ud" "$script"; fi
if [ "$(head -c 2 "$script")" != '#!' ]; then
  echo "user-data is not a script (#cloud-config and MIME are not supported by the test machine)" |
    tee -a ` + UserDataLogPath + ` >&2
  date -u >` + BootFinishedPath + `
  exit 1
fi
chmod 0700 "$script"
"$script" 2>&1 | tee -a ` + UserDataLogPath + `
rc=$?
echo "user-data exited with $rc" | tee -a ` + UserDataLogPath + `
date -u >` + BootFinishedPath + `
exit $rc
`

// machineFile is a file the machine package writes into a machine's root.
type machineFile struct {
	path    string // absolute, inside the machine
	data    string
	mode    os.FileMode
	symlink bool // data is the link target
}

// machineFiles are the per-instance files: host name, name resolution and
// the user-data with its runner.
func machineFiles(in Instance, nameservers []netip.Addr) []machineFile {
	short, _, _ := strings.Cut(in.Hostname, ".")
	hosts := "127.0.0.1\tlocalhost\n" + in.PrivateIP.Addr().String() + "\t" + in.Hostname
	if short != in.Hostname {
		hosts += " " + short
	}
	hosts += "\n::1\tlocalhost ip6-localhost ip6-loopback\n"
	resolv := "# written by internal/testing/machine\n"
	for _, ns := range nameservers {
		resolv += "nameserver " + ns.String() + "\n"
	}
	if len(nameservers) == 0 {
		resolv += "# no name server: the test gave none\n"
	}
	return []machineFile{
		{path: "/etc/hostname", data: in.Hostname + "\n", mode: 0o644},
		{path: "/etc/hosts", data: hosts, mode: 0o644},
		{path: "/etc/resolv.conf", data: resolv, mode: 0o644},
		{path: UserDataPath, data: string(in.UserData), mode: 0o600},
		{path: userDataRunner, data: userDataRunnerScript, mode: 0o755},
		{path: userDataUnitPath, data: userDataUnit, mode: 0o644},
		{path: userDataWantsPath, data: userDataUnitPath, symlink: true},
	}
}

// writeInRoot writes f under root without following any symlink in the
// path, so a link in the image can never make the host write outside
// root.
func writeInRoot(root string, f machineFile) error {
	rel := strings.TrimPrefix(filepath.Clean(f.path), "/")
	parts := strings.Split(rel, "/")
	dir := root
	for _, p := range parts[:len(parts)-1] {
		dir = filepath.Join(dir, p)
		fi, err := os.Lstat(dir)
		switch {
		case errors.Is(err, os.ErrNotExist):
			if err := os.Mkdir(dir, 0o755); err != nil {
				return fmt.Errorf("%s: %w", f.path, err)
			}
		case err != nil:
			return fmt.Errorf("%s: %w", f.path, err)
		case !fi.IsDir():
			return fmt.Errorf("%s: %s is not a directory (symlinks are not followed)", f.path, dir)
		}
	}
	target := filepath.Join(dir, parts[len(parts)-1])
	if err := os.Remove(target); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s: %w", f.path, err)
	}
	if f.symlink {
		if err := os.Symlink(f.data, target); err != nil {
			return fmt.Errorf("%s: %w", f.path, err)
		}
		return nil
	}
	fh, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, f.mode)
	if err != nil {
		return fmt.Errorf("%s: %w", f.path, err)
	}
	if _, err := fh.WriteString(f.data); err != nil {
		fh.Close()
		return fmt.Errorf("%s: %w", f.path, err)
	}
	if err := fh.Close(); err != nil {
		return fmt.Errorf("%s: %w", f.path, err)
	}
	return os.Chmod(target, f.mode) // umask
}
