package hub

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// repoCache is one repository's folder in the HuggingFace cache:
//
//	{cache}/models--{org}--{name}/refs/{revision}          the commit hash
//	{cache}/models--{org}--{name}/snapshots/{commit}/{file} -> ../../blobs/{etag}
//	{cache}/models--{org}--{name}/blobs/{etag}[.incomplete]
//	{cache}/models--{org}--{name}/.no_exist/{commit}/{file} (empty: absent upstream)
//	{cache}/.locks/models--{org}--{name}/{etag}.lock
type repoCache struct {
	root    string // the cache directory
	dir     string // the repository's folder
	lockDir string
}

// folderName is the cache folder of a model repository: "models--org--name".
func folderName(model string) string {
	return "models--" + strings.ReplaceAll(model, "/", "--")
}

func newRepoCache(cacheDir, model string) repoCache {
	name := folderName(model)
	return repoCache{
		root:    cacheDir,
		dir:     filepath.Join(cacheDir, name),
		lockDir: filepath.Join(cacheDir, ".locks", name),
	}
}

func (c repoCache) snapshotDir(commit string) string {
	return filepath.Join(c.dir, "snapshots", commit)
}

func (c repoCache) pointerPath(commit, file string) string {
	return filepath.Join(c.snapshotDir(commit), filepath.FromSlash(file))
}

func (c repoCache) blobPath(etag string) string { return filepath.Join(c.dir, "blobs", etag) }

func (c repoCache) lockPath(etag string) string { return filepath.Join(c.lockDir, etag+".lock") }

func (c repoCache) refPath(rev string) string {
	return filepath.Join(c.dir, "refs", filepath.FromSlash(rev))
}

func (c repoCache) noExistPath(commit, file string) string {
	return filepath.Join(c.dir, ".no_exist", commit, filepath.FromSlash(file))
}

// commitFor returns the commit a revision points to in the cache: the
// revision itself when it is a commit hash, else the content of its ref
// file; "" when the cache does not know it.
func (c repoCache) commitFor(rev string) (string, error) {
	if isCommitHash(rev) {
		return rev, nil
	}
	p := c.refPath(rev)
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read ref %s: %w", p, err)
	}
	commit := strings.TrimSpace(string(b))
	if !isCommitHash(commit) {
		return "", fmt.Errorf("ref %s: %q is not a commit hash", p, commit)
	}
	return commit, nil
}

// writeRef records that rev points to commit (nothing to do when rev is the
// commit itself), through a temporary file and a rename.
func (c repoCache) writeRef(rev, commit string) error {
	if rev == commit {
		return nil
	}
	p := c.refPath(rev)
	if b, err := os.ReadFile(p); err == nil && strings.TrimSpace(string(b)) == commit {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("write ref: %w", err)
	}
	return writeFileAtomic(p, []byte(commit))
}

// hasFile reports whether the snapshot holds file as a readable regular file
// (a symlink into blobs/ whose blob exists, or a plain file).
func (c repoCache) hasFile(commit, file string) bool {
	st, err := os.Stat(c.pointerPath(commit, file))
	return err == nil && st.Mode().IsRegular()
}

// knownAbsent reports whether the cache records that file does not exist at commit.
func (c repoCache) knownAbsent(commit, file string) bool {
	_, err := os.Stat(c.noExistPath(commit, file))
	return err == nil
}

// markAbsent records that file does not exist at commit, like huggingface_hub does.
func (c repoCache) markAbsent(commit, file string) error {
	p := c.noExistPath(commit, file)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("record missing %s: %w", file, err)
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("record missing %s: %w", file, err)
	}
	return f.Close()
}

// link points snapshots/{commit}/{file} at blobs/{etag} with a relative
// symlink, replacing whatever was there atomically.
func (c repoCache) link(commit, file, etag string) error {
	ptr := c.pointerPath(commit, file)
	blob := c.blobPath(etag)
	if err := os.MkdirAll(filepath.Dir(ptr), 0o755); err != nil {
		return fmt.Errorf("link %s: %w", file, err)
	}
	target, err := filepath.Rel(filepath.Dir(ptr), blob)
	if err != nil {
		return fmt.Errorf("link %s: %w", file, err)
	}
	if cur, err := os.Readlink(ptr); err == nil && cur == target {
		return nil
	}
	tmp := ptr + ".tmp-" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if err := os.Symlink(target, tmp); err != nil {
		return fmt.Errorf("link %s: %w", file, err)
	}
	if err := os.Rename(tmp, ptr); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("link %s: %w", file, err)
	}
	return nil
}

// writeFileAtomic writes data to path through a temporary file in the same
// directory, synced and renamed into place.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, diskErr(err))
	}
	return nil
}
