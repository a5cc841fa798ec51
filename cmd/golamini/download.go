package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/golamini/golamini/internal/hub"
)

func init() {
	register(command{
		name:  "download",
		short: "fetch a model from the HuggingFace hub into its cache; prints the local path",
		run:   runDownload,
	})
}

// runDownload implements `golamini download MODEL [--revision R] [--cache-dir D] [--offline]`.
// It prints the snapshot directory on stdout. MODEL always means a hub id:
// when a local directory has the same name, it says so and downloads anyway
// (a folder named org/name in the working directory must not turn a download
// into a silent no-op).
func runDownload(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("download", stderr)
	revision := fs.String("revision", "", "branch, tag or commit hash (default \"main\")")
	cacheDir := fs.String("cache-dir", "", "HuggingFace hub cache (default $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub)")
	endpoint := fs.String("endpoint", "", "hub URL (default $HF_ENDPOINT, else https://huggingface.co)")
	offline := fs.Bool("offline", false, "no network: use only the cache (also HF_HUB_OFFLINE=1)")
	quiet := fs.Bool("quiet", false, "log only warnings and errors")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: golamini download MODEL [flags]\n\n"+
			"Finds MODEL (org/name on the HuggingFace hub, even where a local directory has that\n"+
			"name) in the HuggingFace cache or downloads\n"+
			"config, tokenizer files and weights into it, then prints the snapshot directory.\n"+
			"HF_TOKEN authenticates for private and gated models.\n\nflags:")
		fs.PrintDefaults()
	}

	// MODEL may come before or after the flags.
	model, flagArgs := "", args
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		model, flagArgs = args[0], args[1:]
	}
	if err := fs.Parse(flagArgs); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	rest := fs.Args()
	if model == "" && len(rest) > 0 {
		model, rest = rest[0], rest[1:]
	}
	if model == "" {
		fs.Usage()
		return fmt.Errorf("%w: missing MODEL", errUsage)
	}
	if len(rest) > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, rest[0])
	}

	opts := hub.DefaultOptions()
	opts.Logger = newLogger(stderr, *quiet)
	opts.Progress = stderr
	if *revision != "" {
		opts.Revision = *revision
	}
	if *cacheDir != "" {
		opts.CacheDir = *cacheDir
	}
	if *endpoint != "" {
		opts.Endpoint = *endpoint
	}
	if *offline {
		opts.Offline = true
	}
	if hub.IsLocalDir(model) {
		fmt.Fprintf(stderr, "note: %q is also a local directory; download fetches the hub model %s (give the directory itself to train, infer or score to use it)\n", model, model)
	}
	dir, err := hub.ResolveHub(ctx, model, opts)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, dir)
	return err
}
