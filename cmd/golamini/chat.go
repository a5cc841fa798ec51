package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/golamini/golamini/runner"
)

func init() {
	register(command{name: "chat", short: "chat with an instruct model in its chat template (interactive, or --json lines)", run: runChat})
}

func runChat(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("chat", stderr)
	modelDir := fs.String("model", "", "model directory or hub id (its tokenizer_config.json or chat_template.jinja holds the chat template)")
	system := fs.String("system", "", "interactive: a system message to start the conversation with")
	d := runner.DefaultChatOptions()
	maxNew := fs.Int("max-new-tokens", d.MaxNewTokens, "most tokens per reply")
	sampling := samplingFlags(fs)
	device := fs.String("device", "auto", "auto, cpu, cuda or cuda:N")
	dtype := fs.String("dtype", "float32", "float32, float16 or bfloat16")
	asJSON := fs.Bool("json", false, `read one exchange per stdin line, {"messages": [...], "tools": [...], ...} (other keys are template variables), and write {"text": "<reply>"} per line`)
	quiet := fs.Bool("quiet", false, "log warnings only")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: golamini chat --model DIR [--system TEXT] [--json] [generation flags]")
		fmt.Fprintln(stderr, "\nInteractive: each line you type is a user message; the reply streams as it is generated.")
		fmt.Fprintln(stderr, "/reset starts a new conversation; end with Ctrl-D.")
		fmt.Fprintln(stderr, "--json: one exchange per stdin line, for scripts.\n\nflags:")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *modelDir == "" {
		return fmt.Errorf("%w: --model is required", errUsage)
	}
	log := newLogger(stderr, *quiet)
	dir, err := resolveForInfo(ctx, *modelDir, stderr)
	if err != nil {
		return err
	}
	r, err := runner.NewContext(ctx, dir, runner.WithDevice(*device), runner.WithDType(*dtype), runner.WithLogger(log))
	if err != nil {
		return err
	}
	defer r.Close()
	o := d
	o.MaxNewTokens = *maxNew
	sampling(&o.GenerateOptions)
	// Fail before reading input when the model has no template.
	if _, err := r.ChatPrompt([]runner.Message{{Role: "user", Content: ""}}, o); err != nil {
		return err
	}
	if *asJSON {
		return chatJSON(ctx, r, o, stdin, stdout)
	}
	return chatInteractive(ctx, r, o, *system, stdin, stdout)
}

// chatJSON answers each {"messages": [...]} line with {"text": reply}.
func chatJSON(ctx context.Context, r *runner.Runner, o runner.ChatOptions, stdin io.Reader, stdout io.Writer) error {
	in := bufio.NewReaderSize(stdin, 1<<16)
	var line []byte
	for n := 1; ; n++ {
		var err error
		line, err = readLine(in, line[:0])
		if err == io.EOF && len(line) == 0 {
			return nil
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("read stdin line %d: %w", n, err)
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		ci, err := parseChatLine(line)
		if err != nil {
			return fmt.Errorf("stdin line %d: %w", n, err)
		}
		lo := o
		lo.Tools, lo.Vars = ci.Tools, ci.Vars
		reply, err := r.Chat(ctx, ci.Messages, lo)
		if err != nil {
			return fmt.Errorf("stdin line %d: %w", n, err)
		}
		if err := writeJSON(stdout, struct {
			Text string `json:"text"`
		}{reply}); err != nil {
			return err
		}
	}
}

// chatInteractive keeps a conversation: each input line is a user turn and
// the reply streams to stdout.
func chatInteractive(ctx context.Context, r *runner.Runner, o runner.ChatOptions, system string, stdin io.Reader, stdout io.Writer) error {
	tty := false
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		tty = true
	}
	start := func() []runner.Message {
		if system == "" {
			return nil
		}
		return []runner.Message{{Role: "system", Content: system}}
	}
	msgs := start()
	in := bufio.NewReaderSize(stdin, 1<<16)
	var line []byte
	for {
		if tty {
			fmt.Fprint(stdout, "> ")
		}
		var err error
		line, err = readLine(in, line[:0])
		if err == io.EOF && len(line) == 0 {
			if tty {
				fmt.Fprintln(stdout)
			}
			return nil
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("read stdin: %w", err)
		}
		text := strings.TrimRight(string(line), "\r")
		switch strings.TrimSpace(text) {
		case "":
			continue
		case "/reset":
			msgs = start()
			continue
		}
		msgs = append(msgs, runner.Message{Role: "user", Content: text})
		reply, err := r.ChatStream(ctx, msgs, o, func(p string) bool { fmt.Fprint(stdout, p); return true })
		fmt.Fprintln(stdout)
		if err != nil {
			return err
		}
		msgs = append(msgs, runner.Message{Role: "assistant", Content: reply})
	}
}
