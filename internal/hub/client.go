package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// userAgent identifies our requests to the hub.
const userAgent = "golamini-hub/1 (Go; +https://github.com/golamini/golamini)"

// maxAPIBody bounds the revision endpoint's JSON we read.
const maxAPIBody = 64 << 20

// client speaks the hub's HTTP API. The token goes only to the hub's host,
// never to storage hosts, and never into errors or logs.
type client struct {
	endpoint *url.URL
	token    string
	direct   *http.Client // does not follow redirects (HEAD, API)
	follow   *http.Client // follows redirects (file bodies)
}

func newClient(endpoint, token string) (*client, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("hub endpoint %q is not an http(s) URL (check HF_ENDPOINT)", redact(endpoint))
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 15 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		ExpectContinueTimeout: time.Second,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
		DisableCompression:    true, // sizes and hashes are of the raw bytes
	}
	return &client{
		endpoint: u,
		token:    token,
		direct: &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}},
		// Go drops the Authorization header when a redirect leaves the host.
		follow: &http.Client{Transport: tr},
	}, nil
}

func (c *client) close() { c.direct.CloseIdleConnections() }

// newRequest builds a request with our headers; auth adds the token.
func (c *client) newRequest(ctx context.Context, method, u string, auth bool) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: bad URL %s", ErrBadResponse, redact(u))
	}
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("Accept-Encoding", "identity")
	if auth && c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	return req, nil
}

// repoInfo is the part of the revision endpoint's answer we use.
type repoInfo struct {
	SHA      string `json:"sha"`
	Siblings []struct {
		RFilename string `json:"rfilename"`
	} `json:"siblings"`
}

// revisionInfo asks GET /api/models/{model}/revision/{rev} for the commit a
// revision points to and the repository's file list.
func (c *client) revisionInfo(ctx context.Context, model, rev string) (repoInfo, error) {
	u := c.endpoint.JoinPath("api", "models")
	raw := u.String() + "/" + model + "/revision/" + url.PathEscape(rev)
	var info repoInfo
	req, err := c.newRequest(ctx, http.MethodGet, raw, true)
	if err != nil {
		return info, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.follow.Do(req) // renamed repositories redirect
	if err != nil {
		return info, transportErr(ctx, raw, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return info, newStatusError(http.MethodGet, raw, resp)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxAPIBody)).Decode(&info); err != nil {
		return info, fmt.Errorf("%w: GET %s: bad JSON: %v", ErrBadResponse, redact(raw), err)
	}
	if !isCommitHash(info.SHA) {
		return info, fmt.Errorf("%w: GET %s: field sha %q is not a commit hash", ErrBadResponse, redact(raw), info.SHA)
	}
	return info, nil
}

// fileMeta is what a HEAD on a file's resolve URL tells.
type fileMeta struct {
	commit string // X-Repo-Commit
	etag   string // X-Linked-Etag (sha256 of an LFS file) or ETag (git blob id)
	lfs    bool   // the etag came from X-Linked-Etag
	size   int64  // X-Linked-Size or Content-Length
	url    string // where the body is: Location of an absolute redirect, else the resolve URL
	auth   bool   // url is on the hub's host, so the token may go there
}

// resolveURL is {endpoint}/{model}/resolve/{rev}/{file}.
func (c *client) resolveURL(model, rev, file string) string {
	parts := strings.Split(file, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return c.endpoint.String() + "/" + model + "/resolve/" + url.PathEscape(rev) + "/" + strings.Join(parts, "/")
}

// head reads a file's metadata. Like huggingface_hub it follows relative
// redirects (renamed repositories) but stops at absolute ones (storage).
func (c *client) head(ctx context.Context, model, rev, file string) (fileMeta, error) {
	u := c.resolveURL(model, rev, file)
	var resp *http.Response
	for hops := 0; ; hops++ {
		req, err := c.newRequest(ctx, http.MethodHead, u, true)
		if err != nil {
			return fileMeta{}, err
		}
		resp, err = c.direct.Do(req)
		if err != nil {
			return fileMeta{}, transportErr(ctx, u, err)
		}
		resp.Body.Close()
		if resp.StatusCode >= 400 {
			return fileMeta{}, newStatusError(http.MethodHead, u, resp)
		}
		if resp.StatusCode < 300 || resp.StatusCode >= 400 {
			break
		}
		loc, err := url.Parse(resp.Header.Get("Location"))
		if err != nil || resp.Header.Get("Location") == "" {
			return fileMeta{}, fmt.Errorf("%w: HEAD %s: %d without a valid Location", ErrBadResponse, redact(u), resp.StatusCode)
		}
		if loc.Host != "" {
			break // absolute: the body lives in storage
		}
		if hops >= 10 {
			return fileMeta{}, fmt.Errorf("%w: HEAD %s: too many redirects", ErrBadResponse, redact(u))
		}
		base, _ := url.Parse(u)
		u = base.ResolveReference(&url.URL{Path: loc.Path, RawPath: loc.RawPath}).String()
	}

	h := resp.Header
	m := fileMeta{commit: h.Get("X-Repo-Commit"), url: u, auth: true}
	if m.commit == "" {
		return m, fmt.Errorf("%w: HEAD %s: no X-Repo-Commit header; is %s a HuggingFace hub? (check HF_ENDPOINT and proxy settings)",
			ErrBadResponse, redact(u), redact(c.endpoint.String()))
	}
	etag := h.Get("X-Linked-Etag")
	m.lfs = etag != ""
	if etag == "" {
		etag = h.Get("ETag")
	}
	m.etag = normalizeEtag(etag)
	if !etagName.MatchString(m.etag) {
		return m, fmt.Errorf("%w: HEAD %s: ETag %q is missing or not a digest", ErrBadResponse, redact(u), etag)
	}
	size := h.Get("X-Linked-Size")
	if size == "" {
		size = h.Get("Content-Length")
	}
	n, err := strconv.ParseInt(size, 10, 64)
	if err != nil || n < 0 {
		return m, fmt.Errorf("%w: HEAD %s: size %q (X-Linked-Size / Content-Length) is not a byte count", ErrBadResponse, redact(u), size)
	}
	m.size = n
	if resp.StatusCode >= 300 {
		loc, _ := url.Parse(h.Get("Location"))
		m.url = loc.String()
		m.auth = loc.Host == c.endpoint.Host
	}
	return m, nil
}

// get starts downloading a file body from offset from.
func (c *client) get(ctx context.Context, m fileMeta, from int64) (*http.Response, error) {
	req, err := c.newRequest(ctx, http.MethodGet, m.url, m.auth)
	if err != nil {
		return nil, err
	}
	if from > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", from))
	}
	resp, err := c.follow.Do(req)
	if err != nil {
		return nil, transportErr(ctx, m.url, err)
	}
	return resp, nil
}

// normalizeEtag strips the weak prefix and quotes: W/"abc" -> abc.
func normalizeEtag(e string) string {
	e = strings.TrimSpace(e)
	e = strings.TrimPrefix(e, "W/")
	return strings.Trim(e, `"`)
}

// redact drops credentials and the query (signed storage URLs) from a URL
// before it goes into a message.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User = nil
	u.RawQuery = ""
	u.ForceQuery = false
	u.Fragment = ""
	return u.String()
}

// statusError is an HTTP error answer, with the hub's X-Error-Code.
type statusError struct {
	method, url string // url is redacted
	status      int
	code        string // X-Error-Code: RepoNotFound, GatedRepo, RevisionNotFound, EntryNotFound
	message     string // X-Error-Message
}

func newStatusError(method, u string, resp *http.Response) *statusError {
	return &statusError{
		method:  method,
		url:     redact(u),
		status:  resp.StatusCode,
		code:    resp.Header.Get("X-Error-Code"),
		message: resp.Header.Get("X-Error-Message"),
	}
}

func (e *statusError) Error() string {
	s := fmt.Sprintf("%s %s: HTTP %d", e.method, e.url, e.status)
	if e.code != "" || e.message != "" {
		s += " (" + strings.TrimPrefix(e.code+": "+e.message, ": ") + ")"
	}
	return s
}

// netError is a failure to talk to a host at all.
type netError struct {
	url string // redacted
	err error
}

func (e *netError) Error() string { return fmt.Sprintf("%s: %v", e.url, e.err) }
func (e *netError) Unwrap() error { return e.err }

// transportErr wraps a client error: the context's own error when it ended,
// else a netError without the URL's query.
func transportErr(ctx context.Context, u string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return &netError{url: redact(u), err: err}
}
