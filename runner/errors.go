package runner

import (
	"context"
	"errors"

	"github.com/golamini/golamini/internal/checkpoint"
	"github.com/golamini/golamini/internal/data"
	"github.com/golamini/golamini/internal/hub"
	"github.com/golamini/golamini/internal/model"
	"github.com/golamini/golamini/internal/torch"
	"github.com/golamini/golamini/internal/train"
)

// Errors the Runner's calls return, wrapped with details; test them with
// errors.Is. The errors of the packages underneath (os.ErrNotExist,
// context.Canceled, context.DeadlineExceeded, ...) still match through the
// wrapping too.
var (
	// ErrClosed: the Runner was closed (Close ran, or runs concurrently and
	// stopped this call).
	ErrClosed = errors.New("runner: closed")
	// ErrNotFound: the model is neither a local directory nor a repository,
	// revision or file the hub has.
	ErrNotFound = errors.New("runner: model not found")
	// ErrUnauthorized: the hub refused access (a private or gated repository;
	// set HF_TOKEN / HubOptions.Token).
	ErrUnauthorized = errors.New("runner: access to the model refused")
	// ErrOffline: the model is not in the local cache and the hub cannot be
	// used (offline mode, or the hub is unreachable).
	ErrOffline = errors.New("runner: offline and the model is not cached")
	// ErrCancelled: the call's context ended (cancelled or past its
	// deadline) before it finished. A training run saves a checkpoint first.
	ErrCancelled = errors.New("runner: cancelled")
	// ErrBadData: training data is malformed (a line that is not a JSON
	// object, a missing key, a non-string value, invalid UTF-8, an empty
	// file, rows that encode to no tokens, too few rows to split). The
	// error names the file, line and key.
	ErrBadData = errors.New("runner: bad data")
	// ErrNoData: Train or Evaluate ran before any data was loaded.
	ErrNoData = errors.New("runner: no data loaded")
	// ErrBadCheckpoint: the model's files are missing, unreadable, truncated
	// or corrupt, or config.json is invalid or disagrees with the weights.
	ErrBadCheckpoint = errors.New("runner: bad checkpoint")
	// ErrUnsupported: the model's architecture (model_type) or an option it
	// needs is not implemented.
	ErrUnsupported = errors.New("runner: not supported")
	// ErrInternal: tensor work failed unexpectedly (a panic inside libtorch
	// work, recovered). After one during training the model's weights are in
	// an unknown state: every later call that uses the model returns
	// ErrInternal too; make a new Runner.
	ErrInternal = errors.New("runner: internal error in tensor work")
)

// kindError adds runner sentinels to an error without changing its message.
type kindError struct {
	err   error
	kinds []error
}

func (e *kindError) Error() string { return e.err.Error() }
func (e *kindError) Unwrap() []error {
	return append([]error{e.err}, e.kinds...)
}

// classify wraps err so that the runner's sentinels match it, from what the
// packages underneath wrapped into it.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var kinds []error
	add := func(kind error, causes ...error) {
		for _, c := range causes {
			if errors.Is(err, c) && !errors.Is(err, kind) {
				kinds = append(kinds, kind)
				return
			}
		}
	}
	add(ErrNotFound, hub.ErrNotFound, hub.ErrInvalidModelID)
	add(ErrUnauthorized, hub.ErrAccessDenied)
	add(ErrOffline, hub.ErrOffline, hub.ErrUnreachable)
	add(ErrCancelled, context.Canceled, context.DeadlineExceeded, train.ErrCancelled)
	add(ErrBadData, data.ErrMalformed, data.ErrMissingKey, data.ErrNotString, data.ErrInvalidUTF8, data.ErrEmpty,
		data.ErrNoTokens, data.ErrTooFewPairs)
	add(ErrBadCheckpoint, checkpoint.ErrInvalid, model.ErrInvalidConfig)
	add(ErrUnsupported, model.ErrUnsupported)
	add(ErrInternal, torch.ErrPanic)
	if len(kinds) == 0 {
		return err
	}
	return &kindError{err: err, kinds: kinds}
}
