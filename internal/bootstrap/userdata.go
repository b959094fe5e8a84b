// Package bootstrap writes what an instance runs when it first boots: a
// short script that fetches the node agent and runs `kapstan nodeup`, which
// reads its instance group's node configuration from the state store
// (NAME/nodeup/IG, written by update cluster; the instance role may read
// that key and no other) and configures the machine.
package bootstrap

import (
	"bytes"
	"fmt"
	"regexp"
	"text/template"
)

// Input is what a boot script needs to know.
type Input struct {
	Cluster       string
	InstanceGroup string
	Role          string
	// StateStore is the store's URL, e.g. s3://bucket/prefix.
	StateStore string
	// AgentURL is where the kapstan binary for the node is downloaded from.
	AgentURL string
	// AgentSHA256 is the hex SHA-256 of that binary. When set, the script
	// refuses a download that does not match; when empty the script is
	// exactly what it was before the field existed.
	AgentSHA256 string
	// ConfigHash is a digest of what the instance group's node
	// configuration takes from the spec (nodeup.SpecHash). The script does
	// not use it; it is there so that a change in what nodes run changes
	// the launch template, and rolling-update replaces the instances.
	ConfigHash string
}

var script = template.Must(template.New("userdata").Parse(`#!/bin/bash
# kapstan bootstrap: cluster {{.Cluster}}, instance group {{.InstanceGroup}} ({{.Role}})
{{- if .ConfigHash}}
# node configuration: sha256:{{.ConfigHash}}
{{- end}}
set -o errexit -o nounset -o pipefail
export KAPSTAN_STATE_STORE={{printf "%q" .StateStore}}
mkdir -p /opt/kapstan/bin /etc/kapstan
if [ ! -x /opt/kapstan/bin/kapstan ]; then
  curl --fail --silent --show-error --location --retry 10 --retry-connrefused \
    -o /opt/kapstan/bin/kapstan.download {{printf "%q" .AgentURL}}
{{- if .AgentSHA256}}
  echo {{printf "%q" (printf "%s  /opt/kapstan/bin/kapstan.download" .AgentSHA256)}} | sha256sum --check --strict --quiet
{{- end}}
  chmod 0755 /opt/kapstan/bin/kapstan.download
  mv /opt/kapstan/bin/kapstan.download /opt/kapstan/bin/kapstan
fi
exec /opt/kapstan/bin/kapstan nodeup --cluster {{printf "%q" .Cluster}} --instance-group {{printf "%q" .InstanceGroup}} --root /
`))

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// UserData renders the boot script. The output depends only on in, so a
// launch template changes only when what the node needs changes.
func UserData(in Input) (string, error) {
	if in.Cluster == "" || in.InstanceGroup == "" || in.StateStore == "" || in.AgentURL == "" {
		return "", fmt.Errorf("boot script of %s/%s: cluster, instance group, state store and agent URL are all needed", in.Cluster, in.InstanceGroup)
	}
	if in.ConfigHash != "" && !sha256Hex.MatchString(in.ConfigHash) {
		return "", fmt.Errorf("boot script of %s/%s: node configuration hash %q is not 64 hex digits", in.Cluster, in.InstanceGroup, in.ConfigHash)
	}
	if in.AgentSHA256 != "" && !sha256Hex.MatchString(in.AgentSHA256) {
		return "", fmt.Errorf("boot script of %s/%s: agent SHA-256 %q is not 64 hex digits", in.Cluster, in.InstanceGroup, in.AgentSHA256)
	}
	var b bytes.Buffer
	if err := script.Execute(&b, in); err != nil {
		return "", fmt.Errorf("rendering the boot script of %s: %w", in.InstanceGroup, err)
	}
	return b.String(), nil
}
