package gguf

import (
	"fmt"
	"math"
)

// ropeFreqsTensor is where llama.cpp's converter stores Llama 3's rope
// scaling (Llama 3.1 and 3.2's rope_type "llama3"): one divisor per inverse
// frequency, and no metadata. transformers' GGUF loader drops the tensor
// and so computes plain RoPE for such a file, unlike the original model and
// llama.cpp; golamini turns it back into the rope_parameters it came from.
const ropeFreqsTensor = "rope_freqs.weight"

// llama3FromFreqs returns the llama3 rope_parameters whose divisors are
// freqs (nil when every divisor is 1: no scaling), for a model of rope
// base theta and head size headDim. The divisors fix factor and, through
// the frequencies they blend, the two wavelength bounds
// original_max_position_embeddings / high_freq_factor and
// original_max_position_embeddings / low_freq_factor; low_freq_factor is
// taken as 1 (Llama 3.x's value; only the ratios matter). The parameters
// found are checked by computing the divisors again: a tensor that is not
// Llama 3's scaling is an error.
func llama3FromFreqs(freqs []float32, theta float64, headDim int) (map[string]any, error) {
	if headDim <= 0 || headDim%2 != 0 || len(freqs) != headDim/2 {
		return nil, fmt.Errorf("%s has %d values, want head size %d / 2", ropeFreqsTensor, len(freqs), headDim)
	}
	factor := 1.0
	for i, f := range freqs {
		if !(f >= 1) || math.IsInf(float64(f), 0) {
			return nil, fmt.Errorf("%s[%d] = %v: Llama 3's divisors are finite and at least 1", ropeFreqsTensor, i, f)
		}
		factor = max(factor, float64(f))
	}
	if factor == 1 {
		return nil, nil
	}
	// Classify by wavelength: divisor 1 (short), factor (long), blended.
	const eps = 1e-6
	var xs, ss []float64 // blended: 1/wavelength and the blend s
	maxShort, minLong := 0.0, math.Inf(1)
	for i, f := range freqs {
		wave := llama3Wave(theta, 2*i, headDim)
		r := float64(f)
		switch {
		case math.Abs(r-1) <= eps:
			maxShort = max(maxShort, wave)
		case math.Abs(r-factor) <= eps*factor:
			minLong = min(minLong, wave)
		default:
			// r = 1 / ((1-s)/factor + s)
			xs = append(xs, 1/wave)
			ss = append(ss, (1/r-1/factor)/(1-1/factor))
		}
	}
	// With low_freq_factor 1: s = (ctx/wave − 1) / (high − 1), linear in
	// 1/wave with slope a = ctx/(high−1) and intercept −b = −1/(high−1).
	var ctx, high float64
	switch {
	case len(xs) >= 2:
		// Least squares over the blended frequencies.
		var mx, my float64
		for i := range xs {
			mx += xs[i]
			my += ss[i]
		}
		mx /= float64(len(xs))
		my /= float64(len(xs))
		var sxy, sxx float64
		for i := range xs {
			sxy += (xs[i] - mx) * (ss[i] - my)
			sxx += (xs[i] - mx) * (xs[i] - mx)
		}
		a := sxy / sxx
		b := a*mx - my
		if !(a > 0) || !(b > 0) {
			return nil, fmt.Errorf("%s blends its middle frequencies unlike Llama 3's rope scaling", ropeFreqsTensor)
		}
		ctx, high = math.Round(a/b), math.Round((b+1)/b*1e6)/1e6
	case len(xs) == 1:
		// Any context between this wavelength and the first long one.
		ctx = math.Floor(1/xs[0]) + 1
		if math.IsInf(minLong, 1) {
			minLong = 2 * ctx
		}
		ctx = math.Min(ctx, math.Ceil(minLong)-1)
		high = 1 + (ctx*xs[0]-1)/ss[0]
	default:
		// Any bounds between the longest short and the shortest long wavelength.
		ctx = math.Floor(math.Sqrt(maxShort * minLong))
		high = math.Sqrt(ctx / math.Max(maxShort, 1))
	}
	rp := map[string]any{"rope_type": "llama3", "rope_theta": theta, "factor": factor, "low_freq_factor": 1.0,
		"high_freq_factor": high, "original_max_position_embeddings": int64(ctx)}
	if !(high > 1) || !(ctx > 0) {
		return nil, fmt.Errorf("%s is not Llama 3's rope scaling (no bounds fit its divisors)", ropeFreqsTensor)
	}
	again := llama3Freqs(theta, headDim, factor, 1, high, ctx)
	for i := range freqs {
		if math.Abs(float64(again[i])-float64(freqs[i])) > 1e-5*float64(freqs[i]) {
			return nil, fmt.Errorf("%s is not Llama 3's rope scaling: value %d is %v, the closest llama3 parameters (factor %g, high_freq_factor %g, original_max_position_embeddings %g) give %v",
				ropeFreqsTensor, i, freqs[i], factor, high, ctx, again[i])
		}
	}
	return rp, nil
}
