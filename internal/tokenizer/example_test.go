package tokenizer_test

import (
	"fmt"
	"log"

	"github.com/golamini/golamini/internal/tokenizer"
)

func Example() {
	// A model directory: tokenizer.json plus tokenizer_config.json and
	// special_tokens_map.json (here the project's small Pythia-like tokenizer).
	tok, err := tokenizer.Load("../../testdata/tokenizer")
	if err != nil {
		log.Fatal(err)
	}
	text := "Hello  world<|endoftext|>"
	ids := tok.Encode(text)
	eos := ids[len(ids)-1]
	fmt.Println(eos == tok.EOSID(), tok.IsSpecial(eos))
	fmt.Printf("%q\n", tok.Decode(ids, false))
	fmt.Printf("%q\n", tok.Decode(ids, true))

	// Left truncation and padding, as for training a causal LM.
	batch := [][]int{tokenizer.Truncate(ids, 3, tokenizer.Left), {7}}
	padded, mask := tokenizer.Pad(batch, tokenizer.Right, tok.EOSID())
	fmt.Println(len(padded[1]), mask[1])
	// Output:
	// true true
	// "Hello  world<|endoftext|>"
	// "Hello  world"
	// 3 [1 0 0]
}
