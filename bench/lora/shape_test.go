package main

import "testing"

// The benchmarked shapes are valid configurations; pythia-410m's has the
// real model's parameter count (as HF reports it).
func TestShapes(t *testing.T) {
	for _, name := range []string{"pythia-410m", "qwen2.5-0.5b", "tiny"} {
		c, targets, err := shape(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(targets) == 0 {
			t.Errorf("%s: no targets", name)
		}
		if name == "pythia-410m" {
			if got := c.NumParameters(false); got != 405334016 {
				t.Errorf("%s: %d parameters, want 405334016", name, got)
			}
		}
	}
}
