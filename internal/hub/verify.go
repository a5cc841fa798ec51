package hub

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"regexp"
)

var (
	sha256Digest = regexp.MustCompile(`^[0-9a-f]{64}$`)
	sha1Digest   = regexp.MustCompile(`^[0-9a-f]{40}$`)
)

// verifier checks a downloaded file against its ETag: the sha256 of an LFS
// file (X-Linked-Etag), or the git blob id of a small file (ETag:
// sha1("blob <size>\x00" + content)). A nil *verifier checks nothing.
type verifier struct {
	h    hash.Hash
	kind string // "sha256" or "git blob id", for messages
	size int64
}

// newVerifier returns the verifier m's ETag calls for, or nil for an ETag
// that is neither digest.
func newVerifier(m fileMeta) *verifier {
	switch {
	case sha256Digest.MatchString(m.etag):
		v := &verifier{h: sha256.New(), kind: "sha256", size: m.size}
		return v
	case !m.lfs && sha1Digest.MatchString(m.etag):
		v := &verifier{h: sha1.New(), kind: "git blob id", size: m.size}
		v.reset()
		return v
	}
	return nil
}

// reset forgets what was hashed.
func (v *verifier) reset() {
	if v == nil {
		return
	}
	v.h.Reset()
	if v.kind == "git blob id" {
		fmt.Fprintf(v.h, "blob %d\x00", v.size)
	}
}

func (v *verifier) write(p []byte) {
	if v != nil {
		v.h.Write(p)
	}
}

// Write lets io.Copy feed a verifier.
func (v *verifier) Write(p []byte) (int, error) { v.write(p); return len(p), nil }

func (v *verifier) sum() string { return hex.EncodeToString(v.h.Sum(nil)) }
