package hubtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// serveHub answers the hub's API and resolve endpoints.
func (s *Server) serveHub(w http.ResponseWriter, r *http.Request) {
	rec := &statusRecorder{ResponseWriter: w}
	req := newRequest("hub", r)
	defer func() { req.Status = rec.status; s.record(req) }()

	segs, err := splitEscaped(r.URL.EscapedPath())
	if err != nil {
		http.Error(rec, err.Error(), http.StatusBadRequest)
		return
	}
	if loc, ok := s.renamedLocation(r, segs); ok {
		rec.Header().Set("Location", loc)
		rec.WriteHeader(http.StatusTemporaryRedirect)
		return
	}
	if len(segs) >= 3 && segs[0] == "api" && segs[1] == "models" {
		if r.Method != http.MethodGet {
			http.Error(rec, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		s.serveAPI(rec, r, segs[2:])
		return
	}
	for i := 1; i <= 2 && i+2 < len(segs); i++ {
		if segs[i] == "resolve" {
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				http.Error(rec, "method not allowed", http.StatusMethodNotAllowed)
				return
			}
			s.serveResolve(rec, r, strings.Join(segs[:i], "/"), segs[i+1], strings.Join(segs[i+2:], "/"))
			return
		}
	}
	http.NotFound(rec, r)
}

// renamedLocation returns the relative URL a request for a renamed
// repository is redirected to.
func (s *Server) renamedLocation(r *http.Request, segs []string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.renamed) == 0 {
		return "", false
	}
	escaped := strings.Split(strings.Trim(r.URL.EscapedPath(), "/"), "/")
	start := 0
	if len(segs) >= 3 && segs[0] == "api" && segs[1] == "models" {
		start = 2
	}
	for n := 2; n >= 1; n-- {
		if start+n > len(segs) {
			continue
		}
		if to, ok := s.renamed[strings.Join(segs[start:start+n], "/")]; ok {
			parts := append(append(append([]string{}, escaped[:start]...), to), escaped[start+n:]...)
			return "/" + strings.Join(parts, "/"), true
		}
	}
	return "", false
}

// splitEscaped splits an escaped URL path into unescaped segments, so that a
// revision sent as "refs%2Fpr%2F1" stays one segment.
func splitEscaped(p string) ([]string, error) {
	parts := strings.Split(strings.Trim(p, "/"), "/")
	for i, part := range parts {
		u, err := url.PathUnescape(part)
		if err != nil {
			return nil, fmt.Errorf("bad path segment %q", part)
		}
		parts[i] = u
	}
	return parts, nil
}

func hubError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("X-Error-Code", code)
	w.Header().Set("X-Error-Message", msg)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// lookup finds a repository and commit the request may see, or answers the
// error the real hub would. download is true for file downloads (gating applies).
func (s *Server) lookup(w http.ResponseWriter, r *http.Request, id, rev string, download bool) (RepoOptions, *commit, bool) {
	auth := r.Header.Get("Authorization")
	s.mu.Lock()
	rp := s.repos[id]
	tokenOK := s.token != "" && auth == "Bearer "+s.token
	var c *commit
	var opts RepoOptions
	if rp != nil {
		opts = rp.opts
		c = rp.commits[rev]
		if c == nil {
			c = rp.commits[rp.refs[rev]]
		}
	}
	s.mu.Unlock()

	if rp == nil || (opts.Private && !tokenOK) {
		// The hub does not reveal whether a repository exists to anonymous clients.
		status := http.StatusUnauthorized
		if tokenOK {
			status = http.StatusNotFound
		}
		hubError(w, status, "RepoNotFound", "Repository not found")
		return opts, nil, false
	}
	if download && opts.Gated && !tokenOK {
		status := http.StatusUnauthorized
		if auth != "" {
			status = http.StatusForbidden
		}
		hubError(w, status, "GatedRepo", fmt.Sprintf("Access to model %s is restricted. You must have access to it and be authenticated to access it. Please log in.", id))
		return opts, nil, false
	}
	if c == nil {
		hubError(w, http.StatusNotFound, "RevisionNotFound", "Invalid rev id: "+rev)
		return opts, nil, false
	}
	return opts, c, true
}

type apiSibling struct {
	RFilename string  `json:"rfilename"`
	Size      *int    `json:"size,omitempty"`
	BlobID    string  `json:"blobId,omitempty"`
	LFS       *apiLFS `json:"lfs,omitempty"`
}

type apiLFS struct {
	SHA256      string `json:"sha256"`
	Size        int    `json:"size"`
	PointerSize int    `json:"pointerSize"`
}

// serveAPI answers GET /api/models/{repo}[/revision/{rev}].
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, segs []string) {
	id, rev := strings.Join(segs, "/"), "main"
	for i := 1; i <= 2 && i+1 < len(segs); i++ {
		if segs[i] == "revision" && i+2 == len(segs) {
			id, rev = strings.Join(segs[:i], "/"), segs[i+1]
			break
		}
	}
	opts, c, ok := s.lookup(w, r, id, rev, false)
	if !ok {
		return
	}
	blobs := r.URL.Query().Get("blobs") == "true"
	names := make([]string, 0, len(c.files))
	for n := range c.files {
		names = append(names, n)
	}
	sort.Strings(names)
	siblings := make([]apiSibling, 0, len(names))
	for _, n := range names {
		sib := apiSibling{RFilename: n}
		if blobs {
			f := c.files[n]
			size := len(f.data)
			sib.Size, sib.BlobID = &size, f.gitSHA1
			if f.lfs {
				sib.LFS = &apiLFS{SHA256: f.sha256, Size: size, PointerSize: 134}
			}
		}
		siblings = append(siblings, sib)
	}
	author := ""
	if i := strings.IndexByte(id, '/'); i > 0 {
		author = id[:i]
	}
	var gated any = false
	if opts.Gated {
		gated = "manual"
	}
	body := map[string]any{
		"_id":          c.sha[:24],
		"id":           id,
		"modelId":      id,
		"author":       author,
		"sha":          c.sha,
		"lastModified": "2024-01-01T00:00:00.000Z",
		"createdAt":    "2024-01-01T00:00:00.000Z",
		"private":      opts.Private,
		"gated":        gated,
		"disabled":     false,
		"downloads":    0,
		"likes":        0,
		"tags":         []string{"transformers", "gpt_neox"},
		"library_name": "transformers",
		"siblings":     siblings,
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Repo-Commit", c.sha)
	json.NewEncoder(w).Encode(body)
}

// serveResolve answers HEAD and GET /{repo}/resolve/{rev}/{file}.
func (s *Server) serveResolve(w http.ResponseWriter, r *http.Request, id, rev, name string) {
	_, c, ok := s.lookup(w, r, id, rev, true)
	if !ok {
		return
	}
	f := c.files[name]
	if f == nil {
		w.Header().Set("X-Repo-Commit", c.sha)
		hubError(w, http.StatusNotFound, "EntryNotFound", "Entry not found")
		return
	}
	if r.Method == http.MethodHead {
		s.mu.Lock()
		s.heads[name]++
		s.cond.Broadcast()
		s.mu.Unlock()
	}
	h := w.Header()
	h.Set("X-Repo-Commit", c.sha)
	h.Set("Accept-Ranges", "bytes")
	h.Set("Access-Control-Expose-Headers", "X-Repo-Commit,X-Linked-Etag,X-Linked-Size,ETag,Content-Range")
	if f.lfs {
		s.mu.Lock()
		size, claimed := s.claimed[name]
		s.mu.Unlock()
		if !claimed {
			size = int64(len(f.data))
		}
		h.Set("ETag", `"`+f.gitSHA1+`"`)
		h.Set("X-Linked-Etag", `"`+f.sha256+`"`)
		h.Set("X-Linked-Size", strconv.FormatInt(size, 10))
		q := url.Values{}
		q.Set("response-content-disposition", fmt.Sprintf("inline; filename*=UTF-8''%s", url.PathEscape(pathBase(name))))
		q.Set("X-Amz-Expires", "3600")
		q.Set("X-Amz-Signature", "stand-in-signature")
		h.Set("Location", s.storage.URL+"/lfs/"+f.sha256+"?"+q.Encode())
		w.WriteHeader(http.StatusFound)
		return
	}
	h.Set("ETag", `"`+f.gitSHA1+`"`)
	s.serveBody(w, r, f)
}

// serveStorage answers GET and HEAD /lfs/{sha256} on the storage host.
func (s *Server) serveStorage(w http.ResponseWriter, r *http.Request) {
	rec := &statusRecorder{ResponseWriter: w}
	req := newRequest("storage", r)
	defer func() { req.Status = rec.status; s.record(req) }()
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(rec, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	sha, ok := strings.CutPrefix(r.URL.Path, "/lfs/")
	s.mu.Lock()
	f := s.blobs[sha]
	s.mu.Unlock()
	if !ok || f == nil {
		http.Error(rec, "NoSuchKey", http.StatusNotFound)
		return
	}
	rec.Header().Set("ETag", `"`+f.sha256+`"`)
	rec.Header().Set("Accept-Ranges", "bytes")
	rec.Header().Set("Content-Disposition", fmt.Sprintf("inline; filename*=UTF-8''%s", url.PathEscape(pathBase(f.name))))
	s.serveBody(rec, r, f)
}

func pathBase(name string) string {
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		return name[i+1:]
	}
	return name
}

// serveBody writes a file's body, honouring Range and the test hooks.
func (s *Server) serveBody(w http.ResponseWriter, r *http.Request, f *file) {
	s.mu.Lock()
	corrupt, ignore, rate := s.corrupt[f.name], s.ignoreRg, s.rate
	cut, hasCut := s.cuts[f.name]
	if hasCut && r.Method == http.MethodGet {
		delete(s.cuts, f.name)
	}
	claimed, hasClaim := s.claimed[f.name]
	s.mu.Unlock()

	data := f.data
	if corrupt && len(data) > 0 {
		data = append([]byte(nil), data...)
		data[len(data)/2] ^= 0xff
	}
	size := int64(len(data))
	start, end, status := int64(0), size, http.StatusOK
	if rg := r.Header.Get("Range"); rg != "" && !ignore {
		a, b, ok := parseRange(rg, size)
		if !ok {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", size))
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			return
		}
		start, end, status = a, b, http.StatusPartialContent
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", a, b-1, size))
	}
	length := end - start
	if r.Method == http.MethodHead && hasClaim && status == http.StatusOK {
		length = claimed
	}
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/octet-stream")
	}
	w.Header().Set("Content-Length", strconv.FormatInt(length, 10))
	if r.Method == http.MethodHead {
		w.WriteHeader(status)
		return
	}
	s.waitHold(f.name)
	w.WriteHeader(status)

	const chunk = 64 << 10
	began := time.Now()
	var written int64
	for off := start; off < end; {
		n := min(int64(chunk), end-off)
		if hasCut && written+n > cut {
			n = cut - written
		}
		if n > 0 {
			if _, err := w.Write(data[off : off+n]); err != nil {
				return
			}
			off += n
			written += n
			s.mu.Lock()
			s.sent[f.name] += n
			s.mu.Unlock()
		}
		if hasCut && written >= cut {
			if fl, ok := w.(http.Flusher); ok {
				fl.Flush()
			}
			panic(http.ErrAbortHandler) // drop the connection mid-body
		}
		if rate > 0 {
			want := time.Duration(float64(written) / float64(rate) * float64(time.Second))
			if d := want - time.Since(began); d > 0 {
				if fl, ok := w.(http.Flusher); ok {
					fl.Flush()
				}
				select {
				case <-time.After(d):
				case <-r.Context().Done():
					return
				}
			}
		}
	}
}

// parseRange parses a single-range Range header against size and returns the
// half-open byte interval it selects.
func parseRange(h string, size int64) (start, end int64, ok bool) {
	spec, found := strings.CutPrefix(h, "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false
	}
	a, b, found := strings.Cut(spec, "-")
	if !found {
		return 0, 0, false
	}
	if a == "" { // suffix range: the last b bytes
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n <= 0 {
			return 0, 0, false
		}
		return max(size-n, 0), size, size > 0
	}
	start, err := strconv.ParseInt(a, 10, 64)
	if err != nil || start < 0 || start >= size {
		return 0, 0, false
	}
	end = size
	if b != "" {
		last, err := strconv.ParseInt(b, 10, 64)
		if err != nil || last < start {
			return 0, 0, false
		}
		end = min(last+1, size)
	}
	return start, end, true
}
