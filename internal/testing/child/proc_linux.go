package child

import "syscall"

// SysProcAttr makes the kernel kill a child when the test binary dies
// without stopping it, e.g. when a test panics or `go test -timeout` fires.
func SysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
