package hub

import "errors"

// Errors Resolve wraps; test with errors.Is. Messages name the model and say
// what to do.
var (
	// ErrInvalidModelID: the name is neither a directory nor a hub id that is
	// safe to use as a cache path (or the revision is unsafe).
	ErrInvalidModelID = errors.New("invalid model id")
	// ErrNotFound: the hub has no such repository, revision or file (404).
	ErrNotFound = errors.New("not found on the hub")
	// ErrAccessDenied: the repository is private or gated (401/403).
	ErrAccessDenied = errors.New("access denied by the hub")
	// ErrOffline: offline mode is on and the cache lacks the model.
	ErrOffline = errors.New("offline and not in the cache")
	// ErrUnreachable: the hub could not be reached and the cache lacks the model.
	ErrUnreachable = errors.New("hub unreachable")
	// ErrDiskFull: not enough space in the cache directory.
	ErrDiskFull = errors.New("not enough disk space")
	// ErrChecksum: a downloaded file did not match its sha256 (or git blob id).
	ErrChecksum = errors.New("checksum mismatch")
	// ErrBadResponse: the server answered something a hub would not.
	ErrBadResponse = errors.New("unexpected answer from the hub")
)
