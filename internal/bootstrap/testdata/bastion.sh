#!/bin/bash
# kapstan bootstrap: cluster demo.k8s.local, instance group bastions (Bastion)
# A bastion runs no Kubernetes and no node agent.
exit 0
