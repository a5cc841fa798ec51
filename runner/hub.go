package runner

import (
	"context"
	"fmt"
)

// resolveHub finds a hub model id in the HuggingFace cache or downloads it.
func resolveHub(ctx context.Context, name string, o Options) (string, error) {
	return "", fmt.Errorf("runner: model %q is not a local directory (hub ids are not supported yet)", name)
}
