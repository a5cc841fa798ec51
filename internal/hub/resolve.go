package hub

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// firstBackoff is the pause before the first resume of an interrupted transfer.
const firstBackoff = 500 * time.Millisecond

// Resolve returns a local directory holding config.json, the tokenizer files
// and the weights of model.
//
// An existing local directory is returned as is. Otherwise model must be a
// hub id ("org/name"); the cached snapshot of opts.Revision is returned
// without any network request when it holds every wanted file (with
// opts.Offline, when it holds config.json and complete weights); otherwise
// the files are downloaded into the cache. The returned path is
// {cache}/models--{org}--{name}/snapshots/{commit}.
//
// Files: config.json (required), generation_config.json, tokenizer.json,
// tokenizer_config.json, special_tokens_map.json (when the repository has
// them), and the first weights layout the repository has of
// model.safetensors, model.safetensors.index.json (+ shards),
// pytorch_model.bin, pytorch_model.bin.index.json (+ shards).
//
// Errors wrap ErrInvalidModelID, ErrNotFound, ErrAccessDenied, ErrOffline,
// ErrUnreachable, ErrDiskFull, ErrChecksum or ErrBadResponse and name the
// model. The token never appears in errors or logs.
func Resolve(ctx context.Context, model string, opts Options) (string, error) {
	if IsLocalDir(model) {
		return model, nil
	}
	return ResolveHub(ctx, model, opts)
}

// ResolveHub is Resolve for a name that always means a hub model id, even
// when a local directory of that name exists (golamini download).
func ResolveHub(ctx context.Context, model string, opts Options) (string, error) {
	if err := ValidateModelID(model); err != nil {
		return "", fmt.Errorf("hub: %q is not an existing directory and not a hub model id: %w", model, err)
	}
	opts = opts.withDefaults()
	if err := validateRevision(opts.Revision); err != nil {
		return "", fmt.Errorf("hub: model %q: %w", model, err)
	}
	r := &resolver{model: model, opts: opts, rc: newRepoCache(opts.CacheDir, model)}
	dir, err := r.resolve(ctx)
	if err != nil {
		return "", fmt.Errorf("hub: model %q (revision %s): %w", model, opts.Revision, err)
	}
	return dir, nil
}

// resolver carries one Resolve call.
type resolver struct {
	model string
	opts  Options
	rc    repoCache
}

func (r *resolver) resolve(ctx context.Context) (string, error) {
	log := r.opts.Logger
	rev := r.opts.Revision
	cached, err := r.rc.commitFor(rev)
	if err != nil {
		log.Warn().Str("model", r.model).Err(err).Msg("ignoring unreadable ref in the cache")
		cached = ""
	}
	var usable bool
	var missing []string
	if cached != "" {
		var complete bool
		usable, complete, missing = snapshotState(r.rc, cached)
		if complete || (usable && r.opts.Offline) {
			log.Debug().Str("model", r.model).Str("commit", cached).Msg("using cached snapshot")
			return r.rc.snapshotDir(cached), nil
		}
	}
	if r.opts.Offline {
		return "", fmt.Errorf("%w: offline mode is on (HF_HUB_OFFLINE) and %s; run once online (golamini download %s) or unset HF_HUB_OFFLINE",
			ErrOffline, r.cacheStory(cached, missing), r.model)
	}

	c, err := newClient(r.opts.Endpoint, r.opts.Token)
	if err != nil {
		return "", err
	}
	defer c.close()
	info, err := c.revisionInfo(ctx, r.model, rev)
	if err != nil {
		if usable && fallsBack(err) {
			log.Warn().Str("model", r.model).Str("error", err.Error()).Str("commit", cached).
				Msg("hub unavailable; using the cached snapshot, which lacks some optional files")
			return r.rc.snapshotDir(cached), nil
		}
		return "", r.explain(err, "", cached, missing)
	}
	commit := info.SHA
	names := make([]string, len(info.Siblings))
	for i, s := range info.Siblings {
		names[i] = s.RFilename
	}
	p, err := choose(r.model, names)
	if err != nil {
		return "", err
	}

	prog := newProgress(r.opts.Progress, r.model)
	defer prog.finish()
	f := &fetcher{c: c, rc: r.rc, model: r.model, log: log, prog: prog, retry: firstBackoff}
	began := time.Now()
	if err := r.fetchAll(ctx, f, commit, p.files, true); err != nil {
		return "", err
	}
	if isIndex(p.weights) {
		shards, err := readShards(r.rc.pointerPath(commit, p.weights))
		if err != nil {
			return "", err
		}
		if err := r.fetchAll(ctx, f, commit, shards, false); err != nil {
			return "", err
		}
	}
	for _, a := range p.absent {
		if err := r.rc.markAbsent(commit, a); err != nil {
			return "", err
		}
	}
	if err := r.rc.writeRef(rev, commit); err != nil {
		return "", err
	}
	prog.finish()
	took := time.Since(began)
	log.Info().Str("model", r.model).Str("commit", commit).Str("dir", r.rc.snapshotDir(commit)).
		Int64("downloaded_bytes", prog.done.Load()).Dur("took", took).Msg("model ready")
	return r.rc.snapshotDir(commit), nil
}

// fetchAll fetches files concurrently. With optionalMeta, optional metadata
// files the hub answers 404 for are recorded as absent instead of failing.
// The first failure cancels the rest.
func (r *resolver) fetchAll(ctx context.Context, f *fetcher, commit string, files []string, optionalMeta bool) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, r.opts.Concurrency)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for _, file := range files {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			err := f.fetch(ctx, commit, file)
			if err != nil && optionalMeta && isOptional(file) && isEntryNotFound(err) {
				err = r.rc.markAbsent(commit, file)
			}
			if err != nil {
				err = r.explain(err, file, "", nil)
				mu.Lock()
				if firstErr == nil {
					firstErr = err
					cancel()
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return firstErr
}

func isOptional(file string) bool {
	for _, m := range metadataFiles[1:] {
		if m == file {
			return true
		}
	}
	return false
}

func isEntryNotFound(err error) bool {
	var se *statusError
	return errors.As(err, &se) && se.status == 404 && se.code == "EntryNotFound"
}

// fallsBack reports whether an error of the revision endpoint lets a usable
// cached snapshot stand in (the hub is down or unreachable, not denying access).
func fallsBack(err error) bool {
	var ne *netError
	var se *statusError
	return errors.As(err, &ne) || (errors.As(err, &se) && se.status >= 500)
}

// cacheStory says what the cache holds, for errors.
func (r *resolver) cacheStory(commit string, missing []string) string {
	switch {
	case commit == "" && isCommitHash(r.opts.Revision):
		return fmt.Sprintf("the cache has no snapshot %s under %s", r.opts.Revision, r.rc.dir)
	case commit == "":
		return fmt.Sprintf("the cache has no ref %q under %s", r.opts.Revision, r.rc.dir)
	default:
		return fmt.Sprintf("the cached snapshot %s lacks %s", r.rc.snapshotDir(commit), strings.Join(missing, ", "))
	}
}

// explain turns a client error into one that says what happened and what to do.
func (r *resolver) explain(err error, file, cached string, missing []string) error {
	var se *statusError
	var ne *netError
	switch {
	case errors.As(err, &ne) && file != "":
		return fmt.Errorf("%w: lost the connection to %s while fetching %s (%v); run again to resume",
			ErrUnreachable, redact(r.opts.Endpoint), file, ne.err)
	case errors.As(err, &ne):
		return fmt.Errorf("%w: cannot reach %s (%v); you appear to be offline, and %s. Check the network or proxy, set HF_ENDPOINT for a mirror, or set HF_HUB_OFFLINE=1 to use only the cache",
			ErrUnreachable, redact(r.opts.Endpoint), ne.err, r.cacheStory(cached, missing))
	case errors.As(err, &se):
		tokenHint := "if it is private or gated, set HF_TOKEN to an access token of an account that can read it"
		if r.opts.Token != "" {
			tokenHint = "the token in use (HF_TOKEN) may not have access to it"
		}
		switch {
		case se.code == "GatedRepo":
			return fmt.Errorf("%w: the model is gated: accept its conditions at %s/%s, then set HF_TOKEN to an access token of that account (%v)",
				ErrAccessDenied, redact(r.opts.Endpoint), r.model, se)
		case se.code == "RevisionNotFound":
			return fmt.Errorf("%w: revision %q does not exist; check the branch, tag or commit (%v)", ErrNotFound, r.opts.Revision, se)
		case se.code == "EntryNotFound" || (se.status == 404 && file != ""):
			return fmt.Errorf("%w: file %s is listed but cannot be downloaded (%v)", ErrNotFound, file, se)
		case se.status == 401:
			return fmt.Errorf("%w, or %w: check the id; %s (%v)", ErrNotFound, ErrAccessDenied, tokenHint, se)
		case se.status == 403:
			return fmt.Errorf("%w: %s (%v)", ErrAccessDenied, tokenHint, se)
		case se.status == 404:
			return fmt.Errorf("%w: no such model on %s: check the id; %s (%v)", ErrNotFound, redact(r.opts.Endpoint), tokenHint, se)
		case se.status >= 500:
			return fmt.Errorf("the hub failed (%v); try again later", se)
		}
		return fmt.Errorf("%w: %v", ErrBadResponse, se)
	}
	if file != "" && !strings.Contains(err.Error(), file) {
		return fmt.Errorf("%s: %w", file, err)
	}
	return err
}
