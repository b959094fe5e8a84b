package kubetest

import "syscall"

// sysProcAttr makes the kernel kill a child when the test binary dies
// without calling Stop, e.g. on a `go test -timeout` panic.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
