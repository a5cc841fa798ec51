// Package generate decodes text from a model of any family: greedy or sampled
// (temperature, top-k, top-p), with a repetition penalty, stopping at EOS or
// at stop strings, with a KV cache, for one prompt or a left-padded batch.
// Sampling runs in Go on the logits of the last position with a seeded PCG,
// so results are reproducible for a seed. Everything here must run on the
// torch worker thread.
package generate

import "fmt"

// Options control decoding. The zero value is not useful; start from
// DefaultOptions.
type Options struct {
	// MaxNewTokens is the most tokens to generate per prompt.
	MaxNewTokens int
	// Temperature 0 means greedy (argmax); > 0 samples from softmax(logits/T).
	Temperature float64
	// TopK keeps the K most likely tokens when sampling (0 = all).
	TopK int
	// TopP keeps the smallest set of tokens whose probability reaches P when
	// sampling (1 = all).
	TopP float64
	// RepetitionPenalty divides positive (multiplies negative) logits of
	// tokens already in the prompt or output, as HF does (1 = off).
	RepetitionPenalty float64
	// StopAtEOS ends a row when it generates EOSID.
	StopAtEOS bool
	EOSID     int
	// StopStrings end a row once its decoded output contains one of them
	// (needs Decode).
	StopStrings []string
	// Decode turns ids into text, for StopStrings.
	Decode func(ids []int) string
	// Seed for sampling.
	Seed uint64
	// UseCache keeps past keys and values (much faster; same results).
	UseCache bool
}

// DefaultOptions is greedy decoding of up to 100 tokens with a KV cache,
// stopping at EOS (the course's inference helper uses 100).
func DefaultOptions() Options {
	return Options{MaxNewTokens: 100, TopP: 1, RepetitionPenalty: 1, StopAtEOS: true, UseCache: true}
}

// Validate reports options that cannot work.
func (o *Options) Validate() error {
	switch {
	case o.MaxNewTokens < 0:
		return fmt.Errorf("generate: max new tokens %d must be ≥ 0", o.MaxNewTokens)
	case o.Temperature < 0:
		return fmt.Errorf("generate: temperature %v must be ≥ 0", o.Temperature)
	case o.TopK < 0:
		return fmt.Errorf("generate: top-k %d must be ≥ 0", o.TopK)
	case o.TopP <= 0 || o.TopP > 1:
		return fmt.Errorf("generate: top-p %v must be in (0, 1]", o.TopP)
	case o.RepetitionPenalty <= 0:
		return fmt.Errorf("generate: repetition penalty %v must be > 0", o.RepetitionPenalty)
	case len(o.StopStrings) > 0 && o.Decode == nil:
		return fmt.Errorf("generate: stop strings need a decoder")
	}
	return nil
}
