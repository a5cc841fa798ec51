package main

import (
	"context"
	"fmt"
	"io"
)

// resolveHubModel downloads or finds a hub model in the HF cache.
func resolveHubModel(ctx context.Context, model string, stderr io.Writer) (string, error) {
	return "", fmt.Errorf("model %q is not a local directory (hub ids are not supported yet)", model)
}
