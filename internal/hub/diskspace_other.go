//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package hub

import "errors"

// freeSpace is unknown on this platform; the check before downloading is skipped.
func freeSpace(dir string) (int64, error) {
	return 0, errors.New("free space unknown on this platform")
}
