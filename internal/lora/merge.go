package lora

import (
	"fmt"

	"github.com/golamini/golamini/internal/model"
	"github.com/golamini/golamini/internal/torch"
)

// Merge folds the adapter into m's weights, W ← W + scale·B·A (PEFT's
// merge: the update computed in float32, then rounded to W's dtype), and
// detaches it from m: afterwards m computes what m with the adapter did.
// Runs on the torch worker.
func (a *Adapter) Merge(m *model.Model) error {
	byPath := map[string]*model.Linear{}
	for _, l := range m.Linears() {
		byPath[l.Path] = l
	}
	defer torch.NoGrad()()
	defer m.WeightsChanged()
	for _, l := range a.Layers {
		lin, ok := byPath[l.Path]
		if !ok {
			return fmt.Errorf("lora: merge: %w: the model has no module %s", ErrMismatch, l.Path)
		}
		s := torch.NewScope()
		delta := s.MulScalar(s.Matmul(l.B, l.A), a.scale) // [out, in]
		if s.Err() == nil && lin.W.DType() != torch.Float32 {
			w32 := s.To(lin.W, torch.Float32, lin.W.Device())
			s.Copy(lin.W, s.Add(w32, delta))
		} else {
			s.AddInPlace(lin.W, delta)
		}
		err := s.Err()
		s.Close()
		if err != nil {
			return fmt.Errorf("lora: merge %s: %w", l.Path, err)
		}
	}
	if a.Head != nil {
		// PEFT's merge_and_unload puts the trained copy in the head's
		// place. A tied head is untied by it: the input embedding keeps
		// its weights, and the config says so, so a saved model loads as
		// it computes.
		if m.EmbedOut == m.EmbedIn {
			m.EmbedOut = a.Head
			a.Head = nil
			m.Config.TieWordEmbeddings = false
		} else if err := m.EmbedOut.CopyFrom(a.Head); err != nil {
			return fmt.Errorf("lora: merge %s: %w", HeadModule, err)
		}
	}
	a.Detach(m)
	return nil
}
