#!/bin/bash
# kapstan bootstrap: cluster demo.k8s.local, instance group nodes (Node)
# node configuration: sha256:abababababababababababababababababababababababababababababababab
# Fetches the node agent from the asset mirror, checks its SHA-256 and runs
# it from systemd until the node is configured. No secret is in here.
set -o errexit -o nounset -o pipefail
agent_url='https://mirror.s3.us-east-1.amazonaws.com/kapstan/nodeup/v0.1.0/linux/amd64/nodeup'
agent_sha256=2a9397e2507b844e22d730c5023a4186028b4c051d344861a4002ab9b749d81b
agent_dir=/opt/kapstan/bin
unit_dir=/etc/systemd/system

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

cat > "$unit_dir/kapstan-nodeup.service.new" <<'UNIT'
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
Environment=KAPSTAN_STATE_STORE=s3://state/clusters
ExecStart=/opt/kapstan/bin/nodeup --cluster demo.k8s.local --instance-group nodes --root /
Restart=on-failure
RestartSec=15s
# From systemd 254 the wait grows to 5 minutes; older ones ignore these.
RestartSteps=5
RestartMaxDelaySec=5min

[Install]
WantedBy=multi-user.target
UNIT
mv -f "$unit_dir/kapstan-nodeup.service.new" "$unit_dir/kapstan-nodeup.service"
systemctl daemon-reload
systemctl enable kapstan-nodeup.service
systemctl start --no-block kapstan-nodeup.service
