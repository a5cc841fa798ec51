package main

import (
	"context"
	"io"
	"os"
)

// resolveForInfo returns a local directory for a model argument. Hub ids are
// resolved through the runner's hub support.
func resolveForInfo(ctx context.Context, model string, stderr io.Writer) (string, error) {
	if st, err := os.Stat(model); err == nil && st.IsDir() {
		return model, nil
	}
	return resolveHubModel(ctx, model, stderr)
}
