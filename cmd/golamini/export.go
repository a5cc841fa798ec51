package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/golamini/golamini/internal/gguf"
)

func init() {
	register(command{name: "export", short: "write a model in another format (GGUF for llama.cpp and ollama)", run: runExport})
}

func runExport(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	var outTypes []string
	for name := range gguf.OutTypes {
		outTypes = append(outTypes, name)
	}
	sort.Strings(outTypes)
	fs := newFlagSet("export", stderr)
	modelDir := fs.String("model", "", "model directory (config.json, weights, tokenizer.json) or hub id")
	format := fs.String("format", "gguf", "output format: gguf")
	outType := fs.String("outtype", "f16", "type of the weight matrices: "+strings.Join(outTypes, ", "))
	output := fs.String("output", "", "file to write (replaced only once complete)")
	name := fs.String("name", "", "general.name in the GGUF (default: the model directory's name)")
	pre := fs.String("tokenizer-pre", "", "llama.cpp's name for the pre-tokenizer (default: recognised from tokenizer.json)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *modelDir == "" || *output == "" {
		return fmt.Errorf("%w: --model and --output are required", errUsage)
	}
	if *format != "gguf" {
		return fmt.Errorf("%w: --format %q: only gguf is supported", errUsage, *format)
	}
	typ, ok := gguf.OutTypes[*outType]
	if !ok {
		return fmt.Errorf("%w: --outtype %q: want one of %s", errUsage, *outType, strings.Join(outTypes, ", "))
	}
	dir, err := resolveForInfo(ctx, *modelDir, stderr)
	if err != nil {
		return err
	}
	opts := gguf.DefaultExportOptions()
	opts.OutType, opts.Name, opts.TokenizerPre = typ, *name, *pre
	if err := gguf.ExportDir(ctx, dir, *output, opts); err != nil {
		return err
	}
	st, err := os.Stat(*output)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s\t%d bytes\n", *output, st.Size())
	return nil
}
