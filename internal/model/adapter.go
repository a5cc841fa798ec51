package model

// Linears lists the model's linear projections inside its layers (every
// module LinearHook sees), in HF's registration order, with their module
// paths. The output head is not among them: PEFT leaves it alone too
// unless asked to save it whole.
func (m *Model) Linears() []*Linear {
	var out []*Linear
	for i := range m.Layers {
		out = append(out, m.Layers[i].linears()...)
	}
	return out
}
