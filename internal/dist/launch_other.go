//go:build !linux

package dist

import "syscall"

// launchAttr: outside Linux there is no parent-death signal; the launcher
// still stops the ranks itself when one fails.
func launchAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }
