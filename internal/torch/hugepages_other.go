//go:build !linux

package torch

// AdviseHugePages is a no-op outside Linux; see the Linux version.
func (t *Tensor) AdviseHugePages() bool { return false }
