//go:build !linux

package child

import "syscall"

// SysProcAttr: only Linux can tie a child's life to its parent's.
func SysProcAttr() *syscall.SysProcAttr { return nil }
