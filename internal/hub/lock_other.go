//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package hub

import (
	"context"
	"fmt"
	"runtime"
)

type fileLock struct{}

func acquireLock(ctx context.Context, path string, waiting func()) (*fileLock, error) {
	return nil, fmt.Errorf("lock %s: file locks are not implemented on %s", path, runtime.GOOS)
}

func (l *fileLock) release() {}
