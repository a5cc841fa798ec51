package hub

import (
	"fmt"
	"os"
	"regexp"
	"strings"
)

// namePart is one part of a repository id, as the hub accepts it: letters,
// digits, '_', '-' and '.', starting and ending with a letter, digit or '_'.
var namePart = regexp.MustCompile(`^[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?$`)

var commitHash = regexp.MustCompile(`^[0-9a-f]{40}$`)

// etagName is what we accept as a blob file name: the hub sends hex digests.
var etagName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$`)

// maxModelIDLen is the hub's limit on repository ids.
const maxModelIDLen = 96

// IsLocalDir reports whether model names an existing directory. Such a
// model is used in place, as transformers' from_pretrained does.
func IsLocalDir(model string) bool {
	if model == "" {
		return false
	}
	st, err := os.Stat(model)
	return err == nil && st.IsDir()
}

// ValidateModelID checks that id is a hub repository id ("name" or
// "org/name") that cannot escape the cache directory: no "..", no absolute
// path, no empty part, only the characters the hub allows. It does no I/O.
func ValidateModelID(id string) error {
	bad := func(why string) error {
		return fmt.Errorf("%w %q: %s (want \"org/name\" of letters, digits, '-', '_' and '.')", ErrInvalidModelID, id, why)
	}
	switch {
	case id == "":
		return bad("empty")
	case len(id) > maxModelIDLen:
		return bad(fmt.Sprintf("longer than %d characters", maxModelIDLen))
	case strings.HasPrefix(id, "/") || strings.HasPrefix(id, "~"):
		return bad("an absolute path that is not an existing directory")
	case strings.Contains(id, "\\"):
		return bad("contains a backslash")
	case strings.Count(id, "/") > 1:
		return bad("more than one '/' (a path that is not an existing directory?)")
	case strings.Contains(id, ".."):
		return bad(`contains ".."`)
	case strings.Contains(id, "--"):
		return bad(`contains "--", which the cache uses as separator`)
	case strings.HasSuffix(id, ".git"):
		return bad(`ends with ".git"`)
	}
	for _, part := range strings.Split(id, "/") {
		if part == "" {
			return bad("empty part")
		}
		if !namePart.MatchString(part) {
			return bad(fmt.Sprintf("part %q has a character the hub does not allow, or starts or ends with '-' or '.'", part))
		}
	}
	return nil
}

// validateRevision checks a branch, tag or commit name before it is used in
// a URL and as a path under refs/.
func validateRevision(rev string) error {
	if err := validateRelPath(rev); err != nil {
		return fmt.Errorf("%w: revision %q: %v", ErrInvalidModelID, rev, err)
	}
	return nil
}

// validateRepoFile checks a file name that came from the hub (the file list
// or a weights index) before it becomes a path under snapshots/.
func validateRepoFile(name string) error {
	if err := validateRelPath(name); err != nil {
		return fmt.Errorf("unsafe file name %q from the hub: %v", name, err)
	}
	return nil
}

// validateRelPath accepts slash-separated relative paths whose parts are not
// empty, "." or "..", without backslashes or control characters.
func validateRelPath(p string) error {
	if p == "" {
		return fmt.Errorf("empty")
	}
	if len(p) > 1024 {
		return fmt.Errorf("too long")
	}
	if strings.HasPrefix(p, "/") {
		return fmt.Errorf("absolute")
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return fmt.Errorf("contains %q", r)
		}
	}
	for _, part := range strings.Split(p, "/") {
		if part == "" || part == "." || part == ".." {
			return fmt.Errorf("has an empty, \".\" or \"..\" part")
		}
	}
	return nil
}

// isCommitHash reports whether rev is a full commit hash.
func isCommitHash(rev string) bool { return commitHash.MatchString(rev) }
