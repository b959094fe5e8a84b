// Package bootstrap writes what an instance runs when it first boots: a
// short script that fetches the node agent and its instance group's node
// configuration from the state store and runs `kapstan nodeup`.
package bootstrap

import (
	"bytes"
	"fmt"
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
}

var script = template.Must(template.New("userdata").Parse(`#!/bin/bash
# kapstan bootstrap: cluster {{.Cluster}}, instance group {{.InstanceGroup}} ({{.Role}})
set -o errexit -o nounset -o pipefail
export KAPSTAN_STATE_STORE={{printf "%q" .StateStore}}
mkdir -p /opt/kapstan/bin /etc/kapstan
if [ ! -x /opt/kapstan/bin/kapstan ]; then
  curl --fail --silent --show-error --location --retry 10 --retry-connrefused \
    -o /opt/kapstan/bin/kapstan.download {{printf "%q" .AgentURL}}
  chmod 0755 /opt/kapstan/bin/kapstan.download
  mv /opt/kapstan/bin/kapstan.download /opt/kapstan/bin/kapstan
fi
exec /opt/kapstan/bin/kapstan nodeup --cluster {{printf "%q" .Cluster}} --instance-group {{printf "%q" .InstanceGroup}} --root /
`))

// UserData renders the boot script. The output depends only on in, so a
// launch template changes only when what the node needs changes.
func UserData(in Input) (string, error) {
	if in.Cluster == "" || in.InstanceGroup == "" || in.StateStore == "" || in.AgentURL == "" {
		return "", fmt.Errorf("boot script of %s/%s: cluster, instance group, state store and agent URL are all needed", in.Cluster, in.InstanceGroup)
	}
	var b bytes.Buffer
	if err := script.Execute(&b, in); err != nil {
		return "", fmt.Errorf("rendering the boot script of %s: %w", in.InstanceGroup, err)
	}
	return b.String(), nil
}
