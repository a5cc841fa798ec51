package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/golamini/golamini/runner"
)

// resolveForInfo returns a local directory for a model argument. A .gguf
// file, or a directory holding one and no config.json, gets a model
// directory made from it (runner.GGUFModelDir); hub ids are resolved
// through the runner's hub support.
func resolveForInfo(ctx context.Context, model string, stderr io.Writer) (string, error) {
	if st, err := os.Stat(model); err == nil {
		if !st.IsDir() && strings.HasSuffix(strings.ToLower(model), ".gguf") {
			return runner.GGUFModelDir(model)
		}
		if st.IsDir() {
			if _, err := os.Stat(filepath.Join(model, "config.json")); err != nil {
				if ggufs, _ := filepath.Glob(filepath.Join(model, "*.gguf")); len(ggufs) == 1 {
					return runner.GGUFModelDir(ggufs[0])
				}
			}
			return model, nil
		}
	}
	return resolveHubModel(ctx, model, stderr)
}
