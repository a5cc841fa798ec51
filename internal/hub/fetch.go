package hub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

const (
	// stallTimeout aborts (and resumes) a transfer that receives nothing for this long.
	stallTimeout = 60 * time.Second
	// maxFailures is how many transfer attempts in a row may fail without
	// receiving a byte before the download gives up (the partial file stays).
	maxFailures = 5
	// copyBuffer is the read size of file bodies.
	copyBuffer = 1 << 20
)

// fetcher downloads the files of one model into the cache.
type fetcher struct {
	c     *client
	rc    repoCache
	model string
	log   zerolog.Logger
	prog  *progress
	retry time.Duration // first back-off between attempts
}

// errResumedMismatch: the hash failed after resuming, so the old partial
// file may be the culprit; the caller retries from scratch.
var errResumedMismatch = errors.New("checksum mismatch after resuming")

// transientError marks failures worth resuming after.
type transientError struct{ err error }

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

// fetch makes snapshots/{commit}/{file} a link to a complete, verified blob,
// downloading it unless the snapshot or the blob is already there.
func (f *fetcher) fetch(ctx context.Context, commit, file string) error {
	if f.rc.hasFile(commit, file) {
		f.log.Debug().Str("model", f.model).Str("file", file).Msg("already in cache")
		return nil
	}
	m, err := f.c.head(ctx, f.model, commit, file)
	if err != nil {
		return err
	}
	if m.commit != commit {
		return fmt.Errorf("%w: HEAD of %s at %s answered commit %s", ErrBadResponse, file, commit, m.commit)
	}
	blob := f.rc.blobPath(m.etag)
	if blobComplete(blob, m.size) {
		return f.rc.link(commit, file, m.etag)
	}
	f.prog.addTotal(m.size)
	lock, err := acquireLock(ctx, f.rc.lockPath(m.etag), func() {
		f.log.Info().Str("model", f.model).Str("file", file).Msg("waiting for another download of this file to finish")
	})
	if err != nil {
		return err
	}
	defer lock.release()
	if blobComplete(blob, m.size) { // another process finished it while we waited
		f.prog.add(m.size)
		f.log.Debug().Str("model", f.model).Str("file", file).Msg("downloaded by another process")
		return f.rc.link(commit, file, m.etag)
	}
	if err := os.MkdirAll(filepath.Dir(blob), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(blob), diskErr(err))
	}
	if err := f.download(ctx, file, m, blob); err != nil {
		return err
	}
	return f.rc.link(commit, file, m.etag)
}

// blobComplete reports whether a blob of the expected size exists.
func blobComplete(path string, size int64) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular() && st.Size() == size
}

// download fills blob from the hub through blob+".incomplete", resuming a
// partial file, verifying the digest, then renaming it into place.
func (f *fetcher) download(ctx context.Context, file string, m fileMeta, blob string) error {
	inc := blob + ".incomplete"
	began := time.Now()
	resumedFrom, err := f.downloadTo(ctx, file, m, inc, false)
	if errors.Is(err, errResumedMismatch) {
		f.log.Warn().Str("model", f.model).Str("file", file).Int64("resumed_from", resumedFrom).
			Msg("checksum mismatch after resuming a partial download; downloading again from scratch")
		resumedFrom, err = f.downloadTo(ctx, file, m, inc, true)
	}
	if err != nil {
		return err
	}
	if err := os.Rename(inc, blob); err != nil {
		return fmt.Errorf("move %s into place: %w", inc, diskErr(err))
	}
	took := time.Since(began)
	ev := f.log.Info()
	if f.prog.drawing() {
		ev = f.log.Debug()
	}
	ev.Str("model", f.model).Str("file", file).Int64("bytes", m.size).Int64("resumed_from", resumedFrom).
		Dur("took", took).Float64("mb_per_s", float64(m.size-resumedFrom)/1e6/max(took.Seconds(), 1e-6)).
		Msg("downloaded")
	return nil
}

// downloadTo brings inc to m.size verified bytes, resuming what it holds
// unless fresh. It returns the offset it resumed from.
func (f *fetcher) downloadTo(ctx context.Context, file string, m fileMeta, inc string, fresh bool) (int64, error) {
	fh, err := os.OpenFile(inc, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return 0, fmt.Errorf("open %s: %w", inc, diskErr(err))
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return 0, fmt.Errorf("stat %s: %w", inc, err)
	}
	have := st.Size()
	if fresh || have > m.size {
		if err := fh.Truncate(0); err != nil {
			return 0, fmt.Errorf("truncate %s: %w", inc, err)
		}
		have = 0
	}
	v := newVerifier(m)
	if have > 0 && v != nil {
		if _, err := io.Copy(v, io.NewSectionReader(fh, 0, have)); err != nil {
			return 0, fmt.Errorf("read partial download %s: %w", inc, err)
		}
	}
	resumedFrom := have
	f.prog.add(have)
	if have > 0 {
		f.log.Info().Str("model", f.model).Str("file", file).Int64("from", have).Int64("size", m.size).Msg("resuming download")
	}
	if need := m.size - have; need > 0 {
		if free, err := freeSpace(filepath.Dir(inc)); err == nil && free < need {
			return resumedFrom, fmt.Errorf("%w: %s needs %s more but %s has %s free; free some space or set HF_HUB_CACHE to a larger disk",
				ErrDiskFull, file, formatBytes(need), filepath.Dir(inc), formatBytes(free))
		}
	}

	failures, backoff := 0, f.retry
	for have < m.size {
		got, err := f.transfer(ctx, m, fh, v, &have)
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			return resumedFrom, ctx.Err()
		}
		var te *transientError
		if !errors.As(err, &te) {
			return resumedFrom, fmt.Errorf("download %s: %w", file, err)
		}
		if got > 0 {
			failures, backoff = 0, f.retry
		}
		failures++
		if failures >= maxFailures {
			return resumedFrom, fmt.Errorf("download %s: %w: gave up after %d attempts without progress (the %s downloaded so far are kept; run again to resume)",
				file, err, failures, formatBytes(have))
		}
		f.log.Warn().Str("model", f.model).Str("file", file).Int64("at", have).Str("error", err.Error()).Msg("transfer interrupted; resuming")
		select {
		case <-ctx.Done():
			return resumedFrom, ctx.Err()
		case <-time.After(backoff):
		}
		backoff *= 2
	}

	if v != nil {
		if got := v.sum(); got != m.etag {
			os.Remove(inc)
			if resumedFrom > 0 {
				return resumedFrom, errResumedMismatch
			}
			return resumedFrom, fmt.Errorf("%w: %s: %s %s expected, got %s (the download was discarded; run again, and if it persists the server or a proxy is corrupting it)",
				ErrChecksum, file, v.kind, m.etag, got)
		}
	}
	if err := fh.Sync(); err != nil {
		return resumedFrom, fmt.Errorf("sync %s: %w", inc, diskErr(err))
	}
	return resumedFrom, nil
}

// transfer runs one GET from *have on and appends the body to fh, updating
// *have, the verifier and the progress. It returns the bytes received.
func (f *fetcher) transfer(ctx context.Context, m fileMeta, fh *os.File, v *verifier, have *int64) (int64, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	resp, err := f.c.get(ctx, m, *have)
	if err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return 0, err
		}
		return 0, &transientError{err}
	}
	defer resp.Body.Close()

	switch resp.StatusCode {
	case http.StatusPartialContent:
		start, err := contentRangeStart(resp.Header.Get("Content-Range"))
		if err != nil || start != *have {
			return 0, fmt.Errorf("%w: GET %s: asked bytes from %d, got Content-Range %q",
				ErrBadResponse, redact(m.url), *have, resp.Header.Get("Content-Range"))
		}
	case http.StatusOK:
		if *have > 0 { // the server ignored Range: start over
			f.log.Debug().Str("model", f.model).Str("url", redact(m.url)).Msg("server ignored Range; restarting from byte 0")
			if err := fh.Truncate(0); err != nil {
				return 0, fmt.Errorf("truncate: %w", err)
			}
			f.prog.add(-*have)
			*have = 0
			v.reset()
		}
	default:
		se := newStatusError(http.MethodGet, m.url, resp)
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
			return 0, &transientError{se}
		}
		return 0, se
	}
	if _, err := fh.Seek(*have, io.SeekStart); err != nil {
		return 0, fmt.Errorf("seek: %w", err)
	}

	timer := time.AfterFunc(stallTimeout, func() { cancel(errStalled) })
	defer timer.Stop()
	buf := make([]byte, copyBuffer)
	var got int64
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			timer.Reset(stallTimeout)
			if *have+int64(n) > m.size {
				return got, fmt.Errorf("%w: GET %s: more than the %d bytes announced", ErrBadResponse, redact(m.url), m.size)
			}
			if _, err := fh.Write(buf[:n]); err != nil {
				return got, fmt.Errorf("write %s: %w (the partial file is kept; free some space and run again to resume)", fh.Name(), diskErr(err))
			}
			v.write(buf[:n])
			got += int64(n)
			*have += int64(n)
			f.prog.add(int64(n))
		}
		if rerr == io.EOF {
			if *have < m.size {
				return got, &transientError{fmt.Errorf("body ended at byte %d of %d", *have, m.size)}
			}
			return got, nil
		}
		if rerr != nil {
			if cause := context.Cause(ctx); errors.Is(cause, errStalled) {
				rerr = cause
			} else if ctx.Err() != nil {
				return got, ctx.Err()
			}
			return got, &transientError{fmt.Errorf("%s: %w", redact(m.url), rerr)}
		}
	}
}

var errStalled = fmt.Errorf("no data received for %s", stallTimeout)

// contentRangeStart parses the first byte of "bytes START-END/TOTAL".
func contentRangeStart(h string) (int64, error) {
	spec, ok := strings.CutPrefix(h, "bytes ")
	if !ok {
		return 0, fmt.Errorf("bad Content-Range %q", h)
	}
	start, _, ok := strings.Cut(spec, "-")
	if !ok {
		return 0, fmt.Errorf("bad Content-Range %q", h)
	}
	return strconv.ParseInt(start, 10, 64)
}
