// Command demo is the README's main job: it loads the tiny GPT-NeoX
// checkpoint kept in testdata (no network needed), prints its report and
// generates from it.
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/golamini/golamini/runner"
)

func main() {
	dir := filepath.Join("testdata", "models", "tiny-seq")
	if len(os.Args) > 1 {
		dir = os.Args[1]
	}
	r, err := runner.New(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	fmt.Print(r.Report(2048 * 4).Summary())
	for _, p := range []string{"How do I fine-tune a model with golamini?", "What is GPT-NeoX?"} {
		o := runner.DefaultGenerateOptions()
		o.MaxNewTokens = 30
		gens, err := r.Generate(context.Background(), []string{p}, o)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("\nprompt: %s\nanswer: %s\n", p, gens[0].Text)
	}
}
