package generate

import "math/rand/v2"

// Pick chooses the next token from one row of logits (modified in place) as
// Generate does: argmax when o.Temperature is 0, else a draw from rng after
// o's temperature, top-k and top-p (o.RepetitionPenalty applies to the ids
// in seen). Callers that decode rows one at a time, such as a server's
// continuous batch, get the same choices as Generate for the same seed.
func Pick(logits []float32, seen map[int]struct{}, o *Options, rng *rand.Rand) int {
	return pick(logits, seen, o, rng)
}

// NewRand is the random source Generate uses for a seed.
func NewRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
}
