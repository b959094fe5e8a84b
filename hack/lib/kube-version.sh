# kube-version.sh: sourced by the scripts that build Kubernetes binaries
# from the Go module proxy (hack/kube-test-bins, hack/node-bins), so that
# every binary reports the same version the same way.

# kube_version_ldflags V: the -ldflags that stamp version V (e.g. 1.36.3)
# into component-base and client-go, as a release build does, stripped.
kube_version_ldflags() {
  local v=$1 major minor flags="-s -w" p
  major=${v%%.*}
  minor=${v#*.}
  minor=${minor%%.*}
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X $p.gitVersion=v$v -X $p.gitMajor=$major -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
  done
  echo "$flags"
}
