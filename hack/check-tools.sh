#!/usr/bin/env bash
# check-tools: the external programs the tests run. A missing one fails
# `make test` with the way to get it; nothing is skipped.
set -euo pipefail
missing=0
need() {
  if ! command -v "$1" >/dev/null 2>&1; then
    echo "missing: $1 — $2" >&2
    missing=1
  fi
}
need go          "Go 1.26 from https://go.dev/dl/"
need moto_server "pip install 'moto[server]' (moto 5): the AWS API the tests run against"
need git         "your package manager"
need terraform   "HashiCorp terraform (the Terraform target is checked with terraform fmt)"
need cfn-lint    "pip install cfn-lint (the CloudFormation target is checked with it)"
exit $missing
