package runner

import (
	"github.com/golamini/golamini/internal/model"
	"github.com/golamini/golamini/internal/tokenizer"
	"github.com/golamini/golamini/internal/torch"
)

// Config describes the loaded model in terms every supported family shares
// (the fields of HF's config.json that say what the model is and how big).
type Config struct {
	ModelType     string   `json:"model_type"`    // config.json's model_type, e.g. "gpt_neox"
	Architectures []string `json:"architectures"` // e.g. ["GPTNeoXForCausalLM"]
	VocabSize     int      `json:"vocab_size"`
	HiddenSize    int      `json:"hidden_size"`
	// IntermediateSize is the MLP's inner width.
	IntermediateSize int `json:"intermediate_size"`
	Layers           int `json:"num_hidden_layers"`
	Heads            int `json:"num_attention_heads"`
	// KVHeads is the number of key/value heads: Heads without grouped-query
	// attention.
	KVHeads int `json:"num_key_value_heads"`
	// ContextLength is max_position_embeddings: the most tokens one
	// forward pass may hold (prompt plus generated tokens).
	ContextLength int `json:"max_position_embeddings"`
	// StoredDType is config.json's torch_dtype (the checkpoint's dtype; may
	// be empty); DType is what the Runner computes in.
	StoredDType string `json:"torch_dtype,omitempty"`
	DType       string `json:"dtype"`
	// Parameters counts the weights (tied embeddings once).
	Parameters int64 `json:"parameters"`
}

// publicConfig maps the model's config.json onto Config.
func publicConfig(c model.Config, dt torch.DType) Config {
	return Config{
		ModelType:        c.ModelType,
		Architectures:    append([]string(nil), c.Architectures...),
		VocabSize:        c.VocabSize,
		HiddenSize:       c.HiddenSize,
		IntermediateSize: c.IntermediateSize,
		Layers:           c.NumHiddenLayers,
		Heads:            c.NumAttentionHeads,
		KVHeads:          c.KVHeads,
		ContextLength:    c.MaxPositionEmbeddings,
		StoredDType:      c.TorchDType,
		DType:            dt.String(),
		Parameters:       c.NumParameters(false),
	}
}

// Tokenizer is the model's tokenizer (tokenizer.json, as HF tokenizers
// reads it). Its methods may be called from several goroutines at once.
type Tokenizer struct{ t *tokenizer.Tokenizer }

// Encode turns text into token ids (no special tokens added, as HF's
// tokenizer for these models does by default).
func (t Tokenizer) Encode(text string) []int { return t.t.Encode(text) }

// Decode turns ids back into text, skipping special tokens when asked. It
// is the plain decode, without transformers' optional clean-up of spaces.
func (t Tokenizer) Decode(ids []int, skipSpecialTokens bool) string {
	return t.t.Decode(ids, skipSpecialTokens)
}

// DecodeTransformers is Decode followed by the clean-up of spaces before
// punctuation that transformers' decode applies when the tokenizer's
// configuration asks for it: the text Generate returns.
func (t Tokenizer) DecodeTransformers(ids []int, skipSpecialTokens bool) string {
	return t.t.DecodeTransformers(ids, skipSpecialTokens)
}

// VocabSize is the number of ids (vocabulary plus added tokens).
func (t Tokenizer) VocabSize() int { return t.t.VocabSize() }

// EOSID is the end-of-text token's id.
func (t Tokenizer) EOSID() int { return t.t.EOSID() }

// PadID is the padding token's id, when the tokenizer has one.
func (t Tokenizer) PadID() (int, bool) { return t.t.PadID() }

// IDToToken returns the token string of id.
func (t Tokenizer) IDToToken(id int) (string, bool) { return t.t.IDToToken(id) }

// TokenToID returns the id of a token string.
func (t Tokenizer) TokenToID(token string) (int, bool) { return t.t.TokenToID(token) }
