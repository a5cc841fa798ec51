package generate

import (
	"math"
	"math/rand/v2"
	"sort"
)

// pick chooses the next token from one row of logits (modified in place).
// seen lists the ids already in the prompt and output, for the penalty.
func pick(logits []float32, seen map[int]struct{}, o *Options, rng *rand.Rand) int {
	if o.RepetitionPenalty != 1 {
		p := float32(o.RepetitionPenalty)
		for id := range seen {
			if id < 0 || id >= len(logits) {
				continue
			}
			if logits[id] > 0 {
				logits[id] /= p
			} else {
				logits[id] *= p
			}
		}
	}
	if o.Temperature == 0 {
		return argmax(logits)
	}
	type cand struct {
		id int
		l  float64
	}
	cs := make([]cand, len(logits))
	for i, l := range logits {
		cs[i] = cand{i, float64(l) / o.Temperature}
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].l > cs[j].l })
	if o.TopK > 0 && o.TopK < len(cs) {
		cs = cs[:o.TopK]
	}
	// Softmax over the survivors.
	maxL := cs[0].l
	probs := make([]float64, len(cs))
	var sum float64
	for i, c := range cs {
		probs[i] = math.Exp(c.l - maxL)
		sum += probs[i]
	}
	for i := range probs {
		probs[i] /= sum
	}
	if o.TopP < 1 {
		// Keep the smallest prefix whose mass reaches TopP (at least one token).
		var cum float64
		n := len(probs)
		for i, p := range probs {
			cum += p
			if cum >= o.TopP {
				n = i + 1
				break
			}
		}
		cs, probs = cs[:n], probs[:n]
		sum = 0
		for _, p := range probs {
			sum += p
		}
		for i := range probs {
			probs[i] /= sum
		}
	}
	u := rng.Float64()
	var cum float64
	for i, p := range probs {
		cum += p
		if u < cum {
			return cs[i].id
		}
	}
	return cs[len(cs)-1].id
}

// argmax returns the first index of the largest value (torch's tie rule).
func argmax(v []float32) int {
	best, bi := float32(math.Inf(-1)), 0
	for i, x := range v {
		if x > best {
			best, bi = x, i
		}
	}
	return bi
}
