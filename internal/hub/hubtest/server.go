// Package hubtest runs a local HTTP server that behaves like the HuggingFace
// hub on the wire, for tests of code that downloads models (ours and Python's
// huggingface_hub alike).
//
// It answers the endpoints a download client uses:
//
//	GET  /api/models/{repo}[/revision/{rev}]   JSON with "sha" and "siblings"
//	HEAD /{repo}/resolve/{rev}/{file}          X-Repo-Commit, ETag, X-Linked-Etag, X-Linked-Size, Location
//	GET  /{repo}/resolve/{rev}/{file}          the file (small files) or a 302 to storage (LFS files)
//
// LFS files are redirected to a second server on another loopback host
// (127.0.0.2 where it can be bound, as the real hub sends them to its CDN), so
// clients can tell the hub from storage by host name. Both servers honour
// Range requests, and the hub answers 401 and 404 with the X-Error-Code values
// the real hub uses (RepoNotFound, GatedRepo, RevisionNotFound, EntryNotFound).
//
// Hooks let a test cut a transfer mid-file, corrupt a file, throttle storage,
// ignore Range, lie about a size, or hold a download until several clients
// have asked for it; Requests records what clients sent.
package hubtest

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// Request is one request a client sent to the hub or to storage.
type Request struct {
	Server     string // "hub" or "storage"
	Method     string
	Path       string // escaped path, without the query
	Range      string // the Range header, "" when absent
	Authorized bool   // an Authorization header was present
	Status     int    // the status code answered
}

// RepoOptions describes how a repository is published.
type RepoOptions struct {
	// Private repositories answer 401 RepoNotFound unless the request carries
	// the server's token, like the real hub hides them.
	Private bool
	// Gated repositories list their files to everyone but answer 401 GatedRepo
	// on downloads without the server's token.
	Gated bool
	// LFS reports whether a file is stored with Git LFS (served from storage
	// with X-Linked-Etag = sha256). Nil means: *.safetensors, *.bin, *.pt,
	// *.h5, *.msgpack, *.gguf and *.onnx, and any file of 10 MiB or more.
	LFS func(name string, size int) bool
}

// Server is a stand-in hub plus its storage host. Create it with NewServer
// and Close it when done. All methods are safe for concurrent use.
type Server struct {
	hub     *httptest.Server
	storage *httptest.Server

	mu       sync.Mutex
	repos    map[string]*repo
	renamed  map[string]string // old repository id -> new id
	blobs    map[string]*file  // sha256 -> LFS file
	token    string
	rate     int64 // storage bytes per second, 0 = unlimited
	ignoreRg bool
	cuts     map[string]int64 // file name -> cut the next GET after that many body bytes
	corrupt  map[string]bool  // file name -> serve a flipped byte
	claimed  map[string]int64 // file name -> size announced in headers
	holds    map[string]int   // file name -> hold GETs until that many HEADs were served
	heads    map[string]int   // file name -> HEADs served
	sent     map[string]int64 // file name -> body bytes sent (hub and storage)
	reqs     []Request
	cond     *sync.Cond
}

type repo struct {
	id      string
	opts    RepoOptions
	refs    map[string]string // ref name -> commit
	commits map[string]*commit
}

type commit struct {
	sha   string
	files map[string]*file
}

type file struct {
	name    string
	data    []byte
	lfs     bool
	gitSHA1 string // git blob id of the content (small files) or of the LFS pointer (LFS files)
	sha256  string
}

// NewServer starts the hub on 127.0.0.1 and its storage on 127.0.0.2 (or on
// "localhost" where 127.0.0.2 cannot be bound, still a different host name).
func NewServer() (*Server, error) {
	s := &Server{
		repos:   map[string]*repo{},
		renamed: map[string]string{},
		blobs:   map[string]*file{},
		cuts:    map[string]int64{},
		corrupt: map[string]bool{},
		claimed: map[string]int64{},
		holds:   map[string]int{},
		heads:   map[string]int{},
		sent:    map[string]int64{},
	}
	s.cond = sync.NewCond(&s.mu)
	s.hub = httptest.NewServer(http.HandlerFunc(s.serveHub))
	storageHost := "127.0.0.2"
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		storageHost = "localhost"
		if err != nil {
			s.hub.Close()
			return nil, fmt.Errorf("hubtest: listen for storage: %w", err)
		}
	}
	s.storage = httptest.NewUnstartedServer(http.HandlerFunc(s.serveStorage))
	s.storage.Listener = ln
	s.storage.Start()
	if storageHost == "localhost" {
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		s.storage.URL = "http://localhost:" + port
	}
	return s, nil
}

// URL is the hub endpoint, e.g. "http://127.0.0.1:41234" (use it as HF_ENDPOINT).
func (s *Server) URL() string { return s.hub.URL }

// StorageURL is the base URL of the storage host LFS files are redirected to.
func (s *Server) StorageURL() string { return s.storage.URL }

// Close stops both servers, releasing any held downloads first.
func (s *Server) Close() {
	s.mu.Lock()
	s.holds = map[string]int{}
	s.cond.Broadcast()
	s.mu.Unlock()
	s.hub.CloseClientConnections()
	s.storage.CloseClientConnections()
	s.hub.Close()
	s.storage.Close()
}

// AddRepo publishes files as a new commit of repository id (created if
// needed) and points its "main" branch at it. It returns the commit hash,
// which depends only on the previous commit and the files.
func (s *Server) AddRepo(id string, files map[string][]byte, opts RepoOptions) (string, error) {
	if id == "" || strings.Count(id, "/") > 1 || strings.Contains(id, "..") {
		return "", fmt.Errorf("hubtest: bad repo id %q", id)
	}
	names := make([]string, 0, len(files))
	for n := range files {
		if n == "" || strings.HasPrefix(n, "/") || strings.Contains(n, "..") {
			return "", fmt.Errorf("hubtest: bad file name %q", n)
		}
		names = append(names, n)
	}
	sort.Strings(names)
	isLFS := opts.LFS
	if isLFS == nil {
		isLFS = defaultLFS
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[id]
	if r == nil {
		r = &repo{id: id, refs: map[string]string{}, commits: map[string]*commit{}}
		s.repos[id] = r
	}
	r.opts = opts
	h := sha1.New()
	fmt.Fprintf(h, "parent %s\n", r.refs["main"])
	c := &commit{files: map[string]*file{}}
	for _, n := range names {
		data := files[n]
		f := &file{name: n, data: data, lfs: isLFS(n, len(data))}
		sum := sha256.Sum256(data)
		f.sha256 = hex.EncodeToString(sum[:])
		if f.lfs {
			pointer := fmt.Sprintf("version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize %d\n", f.sha256, len(data))
			f.gitSHA1 = GitBlobSHA1([]byte(pointer))
			s.blobs[f.sha256] = f
		} else {
			f.gitSHA1 = GitBlobSHA1(data)
		}
		c.files[n] = f
		fmt.Fprintf(h, "%s %s %s\n", f.gitSHA1, f.sha256, n)
	}
	c.sha = hex.EncodeToString(h.Sum(nil))
	r.commits[c.sha] = c
	r.refs["main"] = c.sha
	return c.sha, nil
}

// AddDir publishes every regular file under dir (following symlinks, so a
// HuggingFace snapshot directory works) as a new commit of repository id.
func (s *Server) AddDir(id, dir string, opts RepoOptions) (string, error) {
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" {
				return filepath.SkipDir
			}
			return nil
		}
		data, err := os.ReadFile(p) // follows symlinks
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		files[filepath.ToSlash(rel)] = data
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("hubtest: read %s: %w", dir, err)
	}
	return s.AddRepo(id, files, opts)
}

// SetRef points a branch or tag of repository id at commit.
func (s *Server) SetRef(id, ref, commit string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[id]
	if r == nil || r.commits[commit] == nil {
		return fmt.Errorf("hubtest: no commit %s in %s", commit, id)
	}
	r.refs[ref] = commit
	return nil
}

// Rename makes oldID a former name of repository newID: requests for oldID
// answer 307 with a relative Location on the new name, as the hub does for
// renamed repositories.
func (s *Server) Rename(oldID, newID string) {
	s.mu.Lock()
	s.renamed[oldID] = newID
	s.mu.Unlock()
}

// SetToken sets the token private and gated repositories require ("" = none accepted).
func (s *Server) SetToken(token string) { s.mu.Lock(); s.token = token; s.mu.Unlock() }

// SetRate throttles every file body to about bytesPerSec (0 = unlimited).
func (s *Server) SetRate(bytesPerSec int64) { s.mu.Lock(); s.rate = bytesPerSec; s.mu.Unlock() }

// SetIgnoreRange makes file bodies ignore Range and answer 200 with the whole file.
func (s *Server) SetIgnoreRange(on bool) { s.mu.Lock(); s.ignoreRg = on; s.mu.Unlock() }

// CutNext makes the next GET of the named file send only after body bytes
// (with the full Content-Length announced) and then drop the connection.
func (s *Server) CutNext(name string, after int64) { s.mu.Lock(); s.cuts[name] = after; s.mu.Unlock() }

// SetCorrupt makes the named file's body differ from its hashes by one byte.
func (s *Server) SetCorrupt(name string, on bool) { s.mu.Lock(); s.corrupt[name] = on; s.mu.Unlock() }

// SetClaimedSize makes the hub announce size for the named file in
// X-Linked-Size / Content-Length of HEAD answers (-1 = the true size).
func (s *Server) SetClaimedSize(name string, size int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if size < 0 {
		delete(s.claimed, name)
	} else {
		s.claimed[name] = size
	}
}

// HoldUntilHeads makes GETs of the named file wait until the hub has answered
// n HEAD requests for it (or 30 s pass), so n clients are certain to overlap.
func (s *Server) HoldUntilHeads(name string, n int) {
	s.mu.Lock()
	s.holds[name] = n
	s.mu.Unlock()
}

// Requests returns a copy of the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

// ResetRequests forgets recorded requests and per-file counters.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs = nil
	s.heads = map[string]int{}
	s.sent = map[string]int64{}
}

// Sent is the number of body bytes of the named file sent so far.
func (s *Server) Sent(name string) int64 { s.mu.Lock(); defer s.mu.Unlock(); return s.sent[name] }

// FileGETs counts GET requests that transferred the named file's body (the
// hub's own GETs for small files, storage GETs for LFS files).
func (s *Server) FileGETs(name string) []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Request
	for _, r := range s.reqs {
		if r.Method != http.MethodGet {
			continue
		}
		base := path.Base(r.Path)
		if r.Server == "storage" {
			if f := s.blobs[base]; f != nil && f.name == name {
				out = append(out, r)
			}
		} else if strings.Contains(r.Path, "/resolve/") && strings.HasSuffix(r.Path, "/"+name) && r.Status != http.StatusFound {
			out = append(out, r)
		}
	}
	return out
}

// GitBlobSHA1 is git's object id of a blob: sha1("blob <size>\x00" + data).
// The hub uses it as the ETag of files not stored with LFS.
func GitBlobSHA1(data []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(data))
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}

func defaultLFS(name string, size int) bool {
	switch path.Ext(name) {
	case ".safetensors", ".bin", ".pt", ".pth", ".h5", ".msgpack", ".gguf", ".onnx":
		return true
	}
	return size >= 10<<20
}

func (s *Server) record(r Request) {
	s.mu.Lock()
	s.reqs = append(s.reqs, r)
	s.mu.Unlock()
}

// statusRecorder remembers the status code a handler answered.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusRecorder) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func newRequest(server string, r *http.Request) Request {
	return Request{
		Server:     server,
		Method:     r.Method,
		Path:       r.URL.EscapedPath(),
		Range:      r.Header.Get("Range"),
		Authorized: r.Header.Get("Authorization") != "",
	}
}

// waitHold blocks while a hold on name is unmet.
func (s *Server) waitHold(name string) {
	deadline := time.Now().Add(30 * time.Second)
	timer := time.AfterFunc(30*time.Second, func() { s.mu.Lock(); s.cond.Broadcast(); s.mu.Unlock() })
	defer timer.Stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		n, ok := s.holds[name]
		if !ok || s.heads[name] >= n || time.Now().After(deadline) {
			return
		}
		s.cond.Wait()
	}
}
