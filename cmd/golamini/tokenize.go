package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/golamini/golamini/internal/tokenizer"
)

func init() {
	register(command{name: "tokenize", short: "encode {\"text\"} or decode {\"ids\"} JSON lines on stdin", run: runTokenize})
}

// tokenizeIn is one input line: {"text": "..."} to encode, {"ids": [...]} with --decode.
type tokenizeIn struct {
	Text *string `json:"text"`
	IDs  *[]int  `json:"ids"`
}

func runTokenize(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("tokenize", stderr)
	file := fs.String("tokenizer", "", "a tokenizer.json file")
	model := fs.String("model", "", "model directory (tokenizer.json, tokenizer_config.json, special_tokens_map.json) or hub id")
	decode := fs.Bool("decode", false, "read {\"ids\": [...]} lines and write {\"text\": \"...\"} lines")
	skip := fs.Bool("skip-special-tokens", false, "with --decode: leave special tokens such as <|endoftext|> out")
	addSpecial := fs.Bool("add-special-tokens", true, "add the special tokens the post-processor adds (false: the plain encoding)")
	chatMode := fs.Bool("chat", false, "with --model: read {\"messages\": [...], \"add_generation_prompt\": bool, \"tools\": [...], ...} lines, render the model's chat template and write {\"text\", \"ids\"} lines")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: golamini tokenize --tokenizer FILE|--model DIR [--decode [--skip-special-tokens]] [--add-special-tokens=false]")
		fmt.Fprintln(stderr, "\nReads JSON lines on stdin: {\"text\": \"...\"} (or {\"ids\": [...]} with --decode) and")
		fmt.Fprintln(stderr, "writes one {\"ids\": [...]} (or {\"text\": \"...\"}) line per input, in order.")
		fmt.Fprintln(stderr, "With --tokenizer FILE the ids are HF tokenizers' Tokenizer.from_file(FILE).encode(text).ids")
		fmt.Fprintln(stderr, "(special tokens added as the file's post-processor says, e.g. Llama's <s>); with --model DIR")
		fmt.Fprintln(stderr, "they are what transformers' AutoTokenizer gives (tokenizer_config.json's add_bos_token and")
		fmt.Fprintln(stderr, "add_eos_token). --decode gives decode(ids, skip_special_tokens=False). Blank lines are skipped.\n\nflags:")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if (*file == "") == (*model == "") {
		return fmt.Errorf("%w: give exactly one of --tokenizer FILE and --model DIR", errUsage)
	}
	if *chatMode && (*decode || *model == "") {
		return fmt.Errorf("%w: --chat needs --model DIR (for its chat template) and no --decode", errUsage)
	}
	if *skip && !*decode {
		return fmt.Errorf("%w: --skip-special-tokens needs --decode", errUsage)
	}
	addSet := false
	fs.Visit(func(f *flag.Flag) { addSet = addSet || f.Name == "add-special-tokens" })
	if addSet && *decode {
		return fmt.Errorf("%w: --add-special-tokens is for encoding, not --decode", errUsage)
	}
	if addSet && *chatMode {
		return fmt.Errorf("%w: --chat adds no special tokens on top of the template's (as apply_chat_template); leave out --add-special-tokens", errUsage)
	}
	var tok *tokenizer.Tokenizer
	var err error
	var dir string
	if *file != "" {
		tok, err = tokenizer.LoadFile(*file)
	} else {
		if dir, err = resolveForInfo(ctx, *model, stderr); err == nil {
			tok, err = tokenizer.Load(dir)
		}
	}
	if err != nil {
		return err
	}
	if *chatMode {
		return tokenizeChat(ctx, tok, dir, stdin, stdout)
	}
	encode := tok.EncodeWithSpecialTokens
	if !*addSpecial {
		encode = tok.Encode
	}
	return tokenizeStream(ctx, tok, encode, *decode, *skip, stdin, stdout)
}

// tokenizeStream answers each input line with one output line, flushing
// whenever no more input is buffered, so it streams with constant memory.
func tokenizeStream(ctx context.Context, tok *tokenizer.Tokenizer, encode func(string) []int, decode, skip bool, stdin io.Reader, stdout io.Writer) error {
	in := bufio.NewReaderSize(stdin, 1<<16)
	out := bufio.NewWriterSize(stdout, 1<<16)
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	var line []byte
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			out.Flush()
			return err
		}
		var err error
		line, err = readLine(in, line[:0])
		if err == io.EOF && len(line) == 0 {
			return out.Flush()
		}
		if err != nil && err != io.EOF {
			out.Flush()
			return fmt.Errorf("read stdin line %d: %w", n, err)
		}
		if len(bytes.TrimSpace(line)) > 0 {
			if err := tokenizeLine(tok, encode, decode, skip, line, enc); err != nil {
				out.Flush()
				return fmt.Errorf("stdin line %d: %w", n, err)
			}
		}
		if in.Buffered() == 0 {
			if err := out.Flush(); err != nil {
				return fmt.Errorf("write stdout: %w", err)
			}
		}
	}
}

// readLine appends the next line of in (without its newline) to buf.
func readLine(in *bufio.Reader, buf []byte) ([]byte, error) {
	for {
		chunk, err := in.ReadSlice('\n')
		buf = append(buf, chunk...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if len(buf) > 0 && buf[len(buf)-1] == '\n' {
			buf = buf[:len(buf)-1]
		}
		return buf, err
	}
}

func tokenizeLine(tok *tokenizer.Tokenizer, encode func(string) []int, decode, skip bool, line []byte, enc *json.Encoder) error {
	var in tokenizeIn
	if err := json.Unmarshal(line, &in); err != nil {
		return fmt.Errorf("want a JSON object like %s: %w", map[bool]string{false: `{"text": "..."}`, true: `{"ids": [...]}`}[decode], err)
	}
	if decode {
		if in.IDs == nil {
			return errors.New(`missing field "ids" (a list of token ids)`)
		}
		return enc.Encode(struct {
			Text string `json:"text"`
		}{tok.Decode(*in.IDs, skip)})
	}
	if in.Text == nil {
		return errors.New(`missing field "text" (a string)`)
	}
	ids := encode(*in.Text)
	if ids == nil {
		ids = []int{}
	}
	return enc.Encode(struct {
		IDs []int `json:"ids"`
	}{ids})
}
