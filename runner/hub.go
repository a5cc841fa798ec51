package runner

import (
	"context"
	"fmt"

	"github.com/golamini/golamini/internal/hub"
)

// HubOptions configure how hub ids ("EleutherAI/pythia-70m") are found and
// downloaded: the HuggingFace cache ($HF_HUB_CACHE, $HF_HOME/hub or
// ~/.cache/huggingface/hub, shared with Python's huggingface_hub), the
// endpoint ($HF_ENDPOINT), token ($HF_TOKEN), revision and offline mode
// ($HF_HUB_OFFLINE=1).
type HubOptions = hub.Options

// DefaultHubOptions reads the HF_* environment variables.
func DefaultHubOptions() HubOptions { return hub.DefaultOptions() }

// WithHub sets how hub ids are resolved.
func WithHub(h HubOptions) Option { return func(o *Options) { o.Hub = &h } }

// WithRevision sets the hub revision (branch, tag or commit).
func WithRevision(rev string) Option {
	return func(o *Options) {
		if o.Hub == nil {
			h := hub.DefaultOptions()
			o.Hub = &h
		}
		o.Hub.Revision = rev
	}
}

// resolveHub finds a hub model id in the HuggingFace cache or downloads it.
func resolveHub(ctx context.Context, name string, o Options) (string, error) {
	h := hub.DefaultOptions()
	if o.Hub != nil {
		h = *o.Hub
	}
	h.Logger = o.Logger
	dir, err := hub.Resolve(ctx, name, h)
	if err != nil {
		return "", fmt.Errorf("runner: %w", err)
	}
	return dir, nil
}
