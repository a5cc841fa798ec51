//go:build linux || darwin || freebsd || netbsd || openbsd

package hub

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// fileLock is an exclusive flock on a lock file, the same kind of lock
// Python's filelock (used by huggingface_hub) takes, so Go and Python
// processes exclude each other. The lock file is left in place on release,
// as filelock does, so every waiter locks the same inode.
type fileLock struct{ f *os.File }

// lockPollInterval is how often a waiter retries the lock.
const lockPollInterval = 50 * time.Millisecond

// acquireLock blocks until it holds the lock at path or ctx ends. waiting is
// called once if the lock is busy.
func acquireLock(ctx context.Context, path string, waiting func()) (*fileLock, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, diskErr(err))
	}
	notified := false
	for {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf("lock %s: %w", path, diskErr(err))
		}
		for {
			err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
			if err == nil || !errors.Is(err, unix.EWOULDBLOCK) {
				break
			}
			if !notified && waiting != nil {
				waiting()
				notified = true
			}
			select {
			case <-ctx.Done():
				f.Close()
				return nil, ctx.Err()
			case <-time.After(lockPollInterval):
			}
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		// Another process may have removed the lock file while we waited:
		// then we hold a lock nobody else sees, so start over.
		held, err1 := f.Stat()
		onDisk, err2 := os.Stat(path)
		if err1 == nil && err2 == nil && os.SameFile(held, onDisk) {
			return &fileLock{f: f}, nil
		}
		f.Close()
	}
}

// release unlocks and closes the lock file.
func (l *fileLock) release() {
	if l == nil || l.f == nil {
		return
	}
	unix.Flock(int(l.f.Fd()), unix.LOCK_UN)
	l.f.Close()
	l.f = nil
}
