// Command hubserve runs hubtest's stand-in HuggingFace hub until it is
// interrupted, for clients outside Go tests (Python's huggingface_hub, curl).
//
//	go run ./internal/hub/hubtest/cmd/hubserve [--fixtures] [--repo ID=DIR]... [--big-mb N] [--token T]
//
// It prints one JSON line on stdout, {"endpoint": ..., "storage": ..., "repos":
// {id: commit}}, then serves until SIGINT/SIGTERM (or, with --watch-stdin,
// until its stdin is closed). Use the endpoint as HF_ENDPOINT.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/golamini/golamini/internal/hub/hubtest"
)

// repoFlags collects repeated --repo ID=DIR values.
type repoFlags []string

func (r *repoFlags) String() string     { return strings.Join(*r, ",") }
func (r *repoFlags) Set(v string) error { *r = append(*r, v); return nil }

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "hubserve:", err)
		os.Exit(1)
	}
}

func run() error {
	var repos repoFlags
	fixtures := flag.Bool("fixtures", true, "publish hubtest's fixture repositories")
	flag.Var(&repos, "repo", "publish directory DIR as repository ID (`ID=DIR`, repeatable)")
	bigMB := flag.Int("big-mb", 0, "publish golamini-test/big with a model.safetensors of this many MiB")
	token := flag.String("token", "", "token that private and gated repositories accept")
	rate := flag.Int64("rate", 0, "throttle file bodies to this many bytes per second (0 = unlimited)")
	watchStdin := flag.Bool("watch-stdin", false, "exit when stdin is closed")
	flag.Parse()

	s, err := hubtest.NewServer()
	if err != nil {
		return err
	}
	defer s.Close()
	s.SetToken(*token)
	s.SetRate(*rate)
	published := map[string]string{}
	if *fixtures {
		if published, err = hubtest.AddFixtures(s); err != nil {
			return err
		}
	}
	for _, r := range repos {
		id, dir, ok := strings.Cut(r, "=")
		if !ok {
			return fmt.Errorf("--repo %q: want ID=DIR", r)
		}
		if published[id], err = s.AddDir(id, dir, hubtest.RepoOptions{}); err != nil {
			return err
		}
	}
	if *bigMB > 0 {
		st, err := hubtest.RandomSafetensors(*bigMB<<20, 7)
		if err != nil {
			return err
		}
		files := map[string][]byte{"config.json": []byte(`{"model_type": "gpt_neox"}` + "\n"), "model.safetensors": st}
		if published["golamini-test/big"], err = s.AddRepo("golamini-test/big", files, hubtest.RepoOptions{}); err != nil {
			return err
		}
	}
	line, err := json.Marshal(map[string]any{"endpoint": s.URL(), "storage": s.StorageURL(), "repos": published})
	if err != nil {
		return err
	}
	fmt.Println(string(line))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *watchStdin {
		go func() {
			io.Copy(io.Discard, os.Stdin)
			stop()
		}()
	}
	<-ctx.Done()
	return nil
}
