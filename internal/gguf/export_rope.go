package gguf

import (
	"fmt"
	"math"
)

// ropeParams is transformers 5's rope_parameters, or transformers 4's
// rope_scaling with rope_theta beside it (nil when neither is there).
func ropeParams(cfg map[string]any) map[string]any {
	if rp, ok := cfg["rope_parameters"].(map[string]any); ok {
		return rp
	}
	if rs, ok := cfg["rope_scaling"].(map[string]any); ok {
		return rs
	}
	return nil
}

// ropeScaling is what llama.cpp needs of a model's RoPE scaling, as
// convert_hf_to_gguf.py writes it: linear and YaRN scaling as
// {arch}.rope.scaling.* metadata, Llama 3's frequency-dependent scaling as a
// rope_freqs.weight tensor of per-frequency divisors (llama.cpp has no
// metadata for it). Dynamic NTK scaling only changes positions beyond
// max_position_embeddings and is written as nothing, as the converter does.
// Another type is an error: llama.cpp would silently compute plain RoPE.
// ropeKV is one metadata entry, its key without the "{arch}." prefix.
type ropeKV struct {
	key string
	v   any
}

type ropeScaling struct {
	kv []ropeKV // metadata to set

	freqs []float32 // rope_freqs.weight, or nil
}

func exportRopeScaling(cfg map[string]any, headDim uint32) (ropeScaling, error) {
	var out ropeScaling
	rp := ropeParams(cfg)
	if rp == nil {
		return out, nil
	}
	typ, _ := rp["rope_type"].(string)
	if typ == "" {
		typ, _ = rp["type"].(string) // transformers 4's older spelling
	}
	num := func(key string) (float64, bool) { v, ok := rp[key].(float64); return v, ok }
	numOr := func(key string, d float64) float64 {
		if v, ok := num(key); ok {
			return v
		}
		return d
	}
	switch typ {
	case "", "default", "dynamic":
		return out, nil
	case "linear":
		f, ok := num("factor")
		if !ok {
			return out, fmt.Errorf("rope scaling %q without a factor", typ)
		}
		out.kv = []ropeKV{{"rope.scaling.type", "linear"}, {"rope.scaling.factor", float32(f)}}
	case "yarn":
		f, ok := num("factor")
		orig, ok2 := num("original_max_position_embeddings")
		if !ok || !ok2 {
			return out, fmt.Errorf("rope scaling %q needs factor and original_max_position_embeddings", typ)
		}
		out.kv = []ropeKV{
			{"rope.scaling.type", "yarn"},
			{"rope.scaling.factor", float32(f)},
			{"rope.scaling.original_context_length", uint32(orig)},
		}
		for _, k := range [][2]string{{"extrapolation_factor", "yarn_ext_factor"}, {"attention_factor", "yarn_attn_factor"}, {"attn_factor", "yarn_attn_factor"}, {"beta_fast", "yarn_beta_fast"}, {"beta_slow", "yarn_beta_slow"}} {
			if v, ok := num(k[0]); ok {
				if k[0] == "attn_factor" && rp["attention_factor"] != nil {
					continue
				}
				out.kv = append(out.kv, ropeKV{"rope.scaling." + k[1], float32(v)})
			}
		}
	case "llama3":
		base := 10000.0
		if th, ok := ropeTheta(cfg); ok {
			base = th
		}
		out.freqs = llama3Freqs(base, int(headDim), numOr("factor", 8), numOr("low_freq_factor", 1),
			numOr("high_freq_factor", 4), numOr("original_max_position_embeddings", 8192))
	default:
		return out, fmt.Errorf("%w: rope scaling type %q (llama.cpp's converter writes linear, yarn and llama3)", ErrUnsupported, typ)
	}
	return out, nil
}

// llama3Freqs is Llama 3's rope scaling as per-frequency divisors of the
// inverse frequencies (rope_freqs.weight): 1 for wavelengths below
// oldCtx/highF, factor above oldCtx/lowF, a smooth blend between.
func llama3Freqs(base float64, headDim int, factor, lowF, highF, oldCtx float64) []float32 {
	lowWave, highWave := oldCtx/lowF, oldCtx/highF
	var freqs []float32
	for i := 0; i < headDim; i += 2 {
		wave := llama3Wave(base, i, headDim)
		var r float64
		switch {
		case wave < highWave:
			r = 1
		case wave > lowWave:
			r = factor
		default:
			smooth := (oldCtx/wave - lowF) / (highF - lowF)
			r = 1 / ((1-smooth)/factor + smooth)
		}
		freqs = append(freqs, float32(r))
	}
	return freqs
}

// llama3Wave is the wavelength of inverse frequency i/2 of headDim,
// computed in float32 as the converter's torch code does.
func llama3Wave(base float64, i, headDim int) float64 {
	freq := float32(1) / float32(math.Pow(base, float64(float32(i)/float32(headDim))))
	return 2 * math.Pi / float64(freq)
}
