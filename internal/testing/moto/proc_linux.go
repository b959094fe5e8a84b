package moto

import "syscall"

// sysProcAttr makes the kernel kill moto_server when the test binary dies
// without calling Stop, e.g. when a test panics.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
