package dist

import "syscall"

// launchAttr makes a rank die with the launcher (SIGKILL when the thread
// that started it exits), so a killed launcher leaves no orphans.
func launchAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
