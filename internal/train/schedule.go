package train

import "math"

// lrFactor is HF's schedule multiplier at a step (get_scheduler's lambdas).
// The optimizer step that follows `step` completed steps uses
// base × lrFactor(step); HF logs base × lrFactor(step+1) after it.
func lrFactor(kind string, step, warmup, total int) float64 {
	if step < warmup && kind != "constant" {
		return float64(step) / math.Max(1, float64(warmup))
	}
	switch kind {
	case "linear":
		return math.Max(0, float64(total-step)/math.Max(1, float64(total-warmup)))
	case "cosine":
		progress := float64(step-warmup) / math.Max(1, float64(total-warmup))
		return math.Max(0, 0.5*(1+math.Cos(math.Pi*0.5*2*progress)))
	}
	return 1 // constant, constant_with_warmup after warmup
}

// warmupSteps resolves warmup_steps / warmup_ratio as HF does.
func warmupSteps(a *Args, total int) int {
	if a.WarmupSteps > 0 {
		return a.WarmupSteps
	}
	return int(math.Ceil(a.WarmupRatio * float64(total)))
}
