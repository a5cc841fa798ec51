package hub

import (
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/rs/zerolog"
)

// DefaultEndpoint is the public HuggingFace hub.
const DefaultEndpoint = "https://huggingface.co"

// DefaultRevision is the branch resolved when no revision is given.
const DefaultRevision = "main"

// Options controls Resolve. Start from DefaultOptions, which reads the
// environment the way huggingface_hub does. In a zero Options, empty
// Revision, CacheDir and Endpoint and a non-positive Concurrency take their
// defaults; Token and Offline do not (the zero value is no token, online).
type Options struct {
	// Revision is a branch, tag or 40-hex commit hash (default "main").
	Revision string
	// CacheDir is the HuggingFace hub cache: $HF_HUB_CACHE, else
	// $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else
	// ~/.cache/huggingface/hub.
	CacheDir string
	// Endpoint is the hub's base URL: $HF_ENDPOINT, else https://huggingface.co.
	Endpoint string
	// Token is sent as "Authorization: Bearer <token>" to the hub (never to
	// storage hosts, never logged): $HF_TOKEN, else $HUGGING_FACE_HUB_TOKEN,
	// else the file `huggingface-cli login` writes ($HF_TOKEN_PATH, else
	// $HF_HOME/token).
	Token string
	// Offline forbids all network access ($HF_HUB_OFFLINE or
	// $TRANSFORMERS_OFFLINE set to 1, true, yes or on).
	Offline bool
	// Logger receives one line per downloaded file (debug lines when a
	// progress bar is shown). The zero Logger discards everything.
	Logger zerolog.Logger
	// Progress receives a progress bar when it is a terminal; nil disables it.
	Progress io.Writer
	// Concurrency is how many files download at once (default 4).
	Concurrency int
}

// DefaultOptions returns options from the environment, logging to stderr and
// drawing progress on stderr when it is a terminal.
func DefaultOptions() Options {
	return Options{
		Revision:    DefaultRevision,
		CacheDir:    defaultCacheDir(),
		Endpoint:    defaultEndpoint(),
		Token:       defaultToken(),
		Offline:     envTrue("HF_HUB_OFFLINE") || envTrue("TRANSFORMERS_OFFLINE"),
		Logger:      zerolog.New(os.Stderr).With().Timestamp().Logger(),
		Progress:    os.Stderr,
		Concurrency: 4,
	}
}

// withDefaults fills the empty fields that have defaults.
func (o Options) withDefaults() Options {
	if o.Revision == "" {
		o.Revision = DefaultRevision
	}
	if o.CacheDir == "" {
		o.CacheDir = defaultCacheDir()
	}
	if o.Endpoint == "" {
		o.Endpoint = defaultEndpoint()
	}
	o.Endpoint = strings.TrimRight(o.Endpoint, "/")
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	return o
}

func hfHome() string {
	if h := os.Getenv("HF_HOME"); h != "" {
		return expandHome(h)
	}
	if x := os.Getenv("XDG_CACHE_HOME"); x != "" {
		return filepath.Join(expandHome(x), "huggingface")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = os.TempDir()
	}
	return filepath.Join(home, ".cache", "huggingface")
}

func defaultCacheDir() string {
	for _, env := range []string{"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"} {
		if d := os.Getenv(env); d != "" {
			return expandHome(d)
		}
	}
	return filepath.Join(hfHome(), "hub")
}

func defaultEndpoint() string {
	if e := os.Getenv("HF_ENDPOINT"); e != "" {
		return strings.TrimRight(e, "/")
	}
	return DefaultEndpoint
}

func defaultToken() string {
	for _, env := range []string{"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"} {
		if t := strings.TrimSpace(os.Getenv(env)); t != "" {
			return t
		}
	}
	path := os.Getenv("HF_TOKEN_PATH")
	if path == "" {
		path = filepath.Join(hfHome(), "token")
	}
	b, err := os.ReadFile(expandHome(path))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// envTrue reports whether an environment variable holds a true value, as
// huggingface_hub reads its boolean variables.
func envTrue(name string) bool {
	switch strings.ToUpper(strings.TrimSpace(os.Getenv(name))) {
	case "1", "ON", "YES", "TRUE":
		return true
	}
	return false
}

func expandHome(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, p[1:])
		}
	}
	return p
}
