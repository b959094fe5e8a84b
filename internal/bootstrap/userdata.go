// Package bootstrap writes what an instance runs when it first boots: a
// short script that fetches the node agent (cmd/nodeup) from the cluster's
// asset mirror, checks its SHA-256, and installs and starts a systemd unit
// that runs it until the node is configured. The agent reads its instance
// group's node configuration from the state store (NAME/nodeup/IG, written
// by update cluster; the instance role may read that key and no other)
// and configures the machine.
//
// The script carries no secret: only names, the store's URL, and the
// agent's URL and hash.
//
// How the first download authenticates: it does not. The agent is fetched
// with curl from a plain HTTPS URL, so the agent object in the mirror must
// be readable without credentials (public-read, or a bucket policy that
// lets the cluster's VPC read it). That is safe because the agent holds no
// secret, and enough because its integrity comes from the SHA-256 pinned in
// this script, not from the transport. The alternatives are worse: a stock
// image has curl but not always the AWS CLI, so signing an S3 request with
// the instance role would mean SigV4 in bash; and a presigned URL is a
// credential that expires while the launch template lives on. Everything
// after the agent (the node configuration, which holds keys, and the other
// assets) is read by the agent with the instance role's credentials.
package bootstrap

import (
	"bytes"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"text/template"
)

// Paths and names on the machine.
const (
	// AgentDir holds the agent, one file per hash, and the symlink
	// AgentPath to the one in use.
	AgentDir  = "/opt/kapstan/bin"
	AgentPath = AgentDir + "/nodeup"
	// UnitName is the systemd unit that runs the agent.
	UnitName = "kapstan-nodeup.service"
	UnitDir  = "/etc/systemd/system"
	// RoleBastion is the role whose machines run no agent.
	RoleBastion = "Bastion"
)

// Input is what a boot script needs to know.
type Input struct {
	Cluster       string
	InstanceGroup string
	Role          string
	// StateStore is the store's URL, e.g. s3://bucket/prefix.
	StateStore string
	// AgentURL is where the node agent is downloaded from: its object in
	// the asset mirror, by an http(s) URL readable without credentials.
	AgentURL string
	// AgentSHA256 is the hex SHA-256 of the agent. The script refuses a
	// download that does not match. Both are required, except for a
	// bastion, which runs no agent.
	AgentSHA256 string
	// ConfigHash is a digest of what the instance group's node
	// configuration takes from the spec (nodeup.SpecHash). The script does
	// not use it; it is there so that a change in what nodes run changes
	// the launch template, and rolling-update replaces the instances.
	ConfigHash string
}

// script is the boot script of a machine that runs the agent. The
// download is retried by curl with backoff (1 s doubling, for up to 15
// minutes, whatever the error: the mirror may still be filling), and the
// agent itself is run by systemd, which restarts it after a failure.
var script = template.Must(template.New("userdata").Funcs(template.FuncMap{"sh": shellQuote}).Parse(`#!/bin/bash
# kapstan bootstrap: cluster {{.Cluster}}, instance group {{.InstanceGroup}} ({{.Role}})
{{- if .ConfigHash}}
# node configuration: sha256:{{.ConfigHash}}
{{- end}}
# Fetches the node agent from the asset mirror, checks its SHA-256 and runs
# it from systemd until the node is configured. No secret is in here.
set -o errexit -o nounset -o pipefail
agent_url={{sh .AgentURL}}
agent_sha256={{.AgentSHA256}}
agent_dir={{.AgentDir}}
unit_dir={{.UnitDir}}

agent="$agent_dir/nodeup-${agent_sha256:0:12}"
mkdir -p "$agent_dir" "$unit_dir"
if [ ! -x "$agent" ] || [ "$(sha256sum "$agent" | cut -d' ' -f1)" != "$agent_sha256" ]; then
  curl --fail --silent --show-error --location \
    --retry 30 --retry-max-time 900 --retry-connrefused --retry-all-errors \
    -o "$agent.download" "$agent_url"
  got=$(sha256sum "$agent.download" | cut -d' ' -f1)
  if [ "$got" != "$agent_sha256" ]; then
    rm -f "$agent.download"
    echo "kapstan: the node agent from $agent_url has SHA-256 $got, want $agent_sha256: refusing to run it" >&2
    exit 1
  fi
  chmod 0755 "$agent.download"
  mv -f "$agent.download" "$agent"
fi
ln -sfn "$agent" "$agent_dir/.nodeup.new"
mv -T "$agent_dir/.nodeup.new" "$agent_dir/nodeup"

cat > "$unit_dir/{{.UnitName}}.new" <<'UNIT'
[Unit]
Description=kapstan node agent: installs and configures this node
Wants=network-online.target
After=network-online.target
# Retry forever: the agent waits for the store and the mirror itself, and
# systemd starts it again after a failure.
StartLimitIntervalSec=0

[Service]
Type=oneshot
RemainAfterExit=yes
Environment=KAPSTAN_STATE_STORE={{.StateStore}}
ExecStart={{.AgentPath}} --cluster {{.Cluster}} --instance-group {{.InstanceGroup}} --root /
Restart=on-failure
RestartSec=15s
# From systemd 254 the wait grows to 5 minutes; older ones ignore these.
RestartSteps=5
RestartMaxDelaySec=5min

[Install]
WantedBy=multi-user.target
UNIT
mv -f "$unit_dir/{{.UnitName}}.new" "$unit_dir/{{.UnitName}}"
systemctl daemon-reload
systemctl enable {{.UnitName}}
systemctl start --no-block {{.UnitName}}
`))

// bastionScript is a bastion's: it runs no Kubernetes, so no agent.
var bastionScript = template.Must(template.New("bastion").Parse(`#!/bin/bash
# kapstan bootstrap: cluster {{.Cluster}}, instance group {{.InstanceGroup}} ({{.Role}})
# A bastion runs no Kubernetes and no node agent.
exit 0
`))

var (
	sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)
	// name is what the unit's command line and comments accept without
	// quoting: cluster and instance group names are DNS names.
	name = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.-]*$`)
	// storeURL is what a unit's Environment= takes literally: no space,
	// quote, backslash, '$' or systemd's '%' specifiers.
	storeURL = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9+.-]*://[A-Za-z0-9._~:/@+=,-]*$`)
)

// UserData renders the boot script. The output depends only on in, so a
// launch template changes only when what the node needs changes. It
// refuses to render a script for a node without the agent's URL and
// SHA-256, or with a URL that carries credentials.
func UserData(in Input) (string, error) {
	if !name.MatchString(in.Cluster) || !name.MatchString(in.InstanceGroup) || !name.MatchString(in.Role) {
		return "", fmt.Errorf("boot script of %q/%q (role %q): cluster, instance group and role must be names", in.Cluster, in.InstanceGroup, in.Role)
	}
	if in.ConfigHash != "" && !sha256Hex.MatchString(in.ConfigHash) {
		return "", fmt.Errorf("boot script of %s/%s: node configuration hash %q is not 64 hex digits", in.Cluster, in.InstanceGroup, in.ConfigHash)
	}
	tmpl := bastionScript
	if in.Role != RoleBastion {
		if err := checkAgent(in); err != nil {
			return "", err
		}
		tmpl = script
	}
	data := struct {
		Input
		AgentDir, AgentPath, UnitDir, UnitName string
	}{in, AgentDir, AgentPath, UnitDir, UnitName}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, data); err != nil {
		return "", fmt.Errorf("rendering the boot script of %s: %w", in.InstanceGroup, err)
	}
	return b.String(), nil
}

// checkAgent checks what a node's script needs to fetch and run the agent.
func checkAgent(in Input) error {
	where := "boot script of " + in.Cluster + "/" + in.InstanceGroup
	if in.AgentURL == "" || in.AgentSHA256 == "" {
		return fmt.Errorf("%s: the node agent's URL and SHA-256 are both needed (got URL %q, SHA-256 %q): "+
			"a node runs only an agent it can verify", where, in.AgentURL, in.AgentSHA256)
	}
	if !sha256Hex.MatchString(in.AgentSHA256) {
		return fmt.Errorf("%s: agent SHA-256 %q is not 64 lower-case hex digits", where, in.AgentSHA256)
	}
	u, err := url.Parse(in.AgentURL)
	if err != nil {
		return fmt.Errorf("%s: agent URL: %w", where, err)
	}
	switch {
	case u.Scheme == "file":
		// A file:// mirror is the default only of a file:// state store,
		// which `update cluster --yes` refuses: such a script is only
		// planned or rendered (with a warning), never booted. curl fetches
		// file:// URLs too, so the script stays valid on a machine that
		// has the folder.
		if u.Host != "" || !strings.HasPrefix(u.Path, "/") || u.RawQuery != "" {
			return fmt.Errorf("%s: agent URL %q: a file:// URL needs an absolute path, and no host or query", where, in.AgentURL)
		}
	case u.Scheme != "https" && u.Scheme != "http":
		return fmt.Errorf("%s: agent URL %q: want an https:// URL that curl can fetch without credentials", where, in.AgentURL)
	case u.Host == "":
		return fmt.Errorf("%s: agent URL %q has no host", where, in.AgentURL)
	case u.User != nil || u.RawQuery != "":
		// A user:password or a presigned query is a credential, and the
		// user-data must never carry one.
		return fmt.Errorf("%s: agent URL %q carries credentials or a query: the user-data holds no secret, so the agent must be readable without them", where, in.AgentURL)
	}
	if !storeURL.MatchString(in.StateStore) {
		return fmt.Errorf("%s: state store URL %q: want scheme://location without spaces, quotes, '$', '%%' or '\\'", where, in.StateStore)
	}
	return nil
}

// shellQuote quotes s for bash as one word, with nothing expanded.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
