package main

import (
	"context"
	"io"

	"github.com/golamini/golamini/internal/hub"
)

// resolveHubModel finds a hub model in the HuggingFace cache or downloads
// it, with a progress bar on a terminal and a log line per file otherwise.
func resolveHubModel(ctx context.Context, model string, stderr io.Writer) (string, error) {
	o := hub.DefaultOptions()
	o.Logger = newLogger(stderr, false)
	o.Progress = stderr
	return hub.Resolve(ctx, model, o)
}
