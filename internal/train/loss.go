package train

import (
	"github.com/golamini/golamini/internal/data"
	"github.com/golamini/golamini/internal/model"
	"github.com/golamini/golamini/internal/torch"
)

// batchTensors turns a padded batch into ids [B, T] and next-token targets
// [B·(T−1)] (labels shifted left by one; −100 is ignored).
func batchTensors(s *torch.Scope, b data.Batch) (ids, targets *torch.Tensor) {
	B, T := len(b.InputIDs), b.Width()
	in := make([]int64, 0, B*T)
	tg := make([]int64, 0, B*(T-1))
	for i := range b.InputIDs {
		for j, id := range b.InputIDs[i] {
			in = append(in, int64(id))
			if j > 0 {
				tg = append(tg, int64(b.Labels[i][j]))
			}
		}
	}
	return s.Int64(in, int64(B), int64(T)), s.Int64(tg, int64(B*(T-1)))
}

// lossSum returns the summed next-token cross-entropy of a batch, a scalar.
func lossSum(s *torch.Scope, m *model.Model, b data.Batch) *torch.Tensor {
	return scaledLossSum(s, m, b, 1)
}

// scaledLossSum is lossSum for a caller that will backpropagate from
// loss·gradScale: see headLoss.
func scaledLossSum(s *torch.Scope, m *model.Model, b data.Batch, gradScale float64) *torch.Tensor {
	ids, targets := batchTensors(s, b)
	return headLoss(s, m, m.Forward(s, ids, model.Pass{}), targets, int64(len(b.InputIDs)), int64(b.Width()), gradScale)
}

// headLoss maps final hidden states h [B, T, H] to the summed cross-entropy
// of embed_out's logits against targets. Only positions 0…T−2 go through
// embed_out: the last position has no target.
//
// Speed and memory: the logits (B·(T−1) × 50,304 floats for Pythia, 412 MB
// at batch 4 × 512) are never materialised. torch.LinearCrossEntropy runs
// the rows through embed_out in chunks, turns each chunk's logits into its
// loss and, under autograd, at once into the gradients of h and embed_out
// (softmax − one-hot, scaled by gradScale, the upstream gradient backward
// will bring), and skips rows whose label is −100 (padding). The value
// and gradients are cross_entropy(h·embed_outᵀ, targets, reduction=sum)'s;
// HF's loss path materialises the logits, their log-softmax and its
// gradient: three [B·T, vocab] float32 tensors (for batch 4 × 512 and
// Pythia's 50,304-token vocabulary, 412 MB each) written and read again.
func headLoss(s *torch.Scope, m *model.Model, h, targets *torch.Tensor, B, T int64, gradScale float64) *torch.Tensor {
	h = s.Narrow(h, 1, 0, T-1)                            // [B, T-1, H]
	h = s.Reshape(h, B*(T-1), int64(m.Config.HiddenSize)) // [B·(T-1), H]
	if m.Device != torch.CPU {
		targets = s.To(targets, torch.Int64, m.Device)
	}
	return s.LinearCrossEntropy(h, m.OutputProjection(), targets, torch.CrossEntropyOptions{IgnoreIndex: data.IgnoreIndex, GradScale: gradScale})
}

// backward computes the batch's loss sum and accumulates the gradients of
// loss·scale into the parameters; it returns the loss sum (not scaled).
func backward(m *model.Model, b data.Batch, scale float64, checkpointing bool) (float64, error) {
	if checkpointing {
		return backwardCheckpointed(m, b, scale)
	}
	s := torch.NewScope()
	defer s.Close()
	loss := scaledLossSum(s, m, b, scale)
	scaled := s.MulScalar(loss, scale)
	if err := s.Err(); err != nil {
		return 0, err
	}
	if err := scaled.Backward(); err != nil {
		return 0, err
	}
	return loss.Item64()
}

// backwardCheckpointed trades compute for memory (HF's
// gradient_checkpointing): the forward pass runs without autograd keeping
// only each block's input; backward then walks the blocks from the top,
// recomputing one block at a time with autograd on and pushing the
// gradient through it with the surrogate sum(y ⊙ ∂L/∂y), whose gradient
// with respect to the block's parameters and input is the true one. Peak
// activation memory is one block's instead of all of them.
func backwardCheckpointed(m *model.Model, b data.Batch, scale float64) (float64, error) {
	s := torch.NewScope()
	defer s.Close()
	ids, targets := batchTensors(s, b)
	B, T := int64(len(b.InputIDs)), int64(b.Width())
	seg := m.Prepare(s, B, T)
	L := len(m.Layers)
	inputs := make([]*torch.Tensor, L+1) // inputs[i] feeds block i; inputs[L] is the last output
	func() {
		defer torch.NoGrad()()
		inputs[0] = m.Embed(s, ids)
		for i := 0; i < L; i++ {
			ls := torch.NewScope()
			y := m.Block(ls, i, inputs[i], seg)
			s.Fail(ls.Err())
			inputs[i+1] = s.Own(ls.Keep(y))
			ls.Close()
		}
	}()
	if err := s.Err(); err != nil {
		return 0, err
	}
	// Head: final LayerNorm, embed_out and the loss, from a leaf copy of the top.
	top := s.Detach(inputs[L])
	if err := s.Err(); err != nil {
		return 0, err
	}
	if err := top.SetRequiresGrad(true); err != nil {
		return 0, err
	}
	loss := headLoss(s, m, m.Final(s, top), targets, B, T, scale)
	scaled := s.MulScalar(loss, scale)
	if err := s.Err(); err != nil {
		return 0, err
	}
	if err := scaled.Backward(); err != nil {
		return 0, err
	}
	lossValue, err := loss.Item64()
	if err != nil {
		return 0, err
	}
	grad, err := top.Grad()
	if err != nil {
		return 0, err
	}
	for i := L - 1; i >= -1; i-- {
		if i < 0 && !trainsEmbedding(m) {
			break // a frozen embedding needs no gradient
		}
		ls := torch.NewScope()
		ls.Own(grad)
		var x, y *torch.Tensor
		if i >= 0 {
			x = ls.Detach(inputs[i])
			if ls.Err() == nil {
				ls.Fail(x.SetRequiresGrad(true))
			}
			y = m.Block(ls, i, x, seg)
		} else {
			y = m.Embed(ls, ids) // the embedding's gradient
		}
		surrogate := ls.Sum(ls.Mul(y, grad), torch.Float32)
		if err := ls.Err(); err != nil {
			ls.Close()
			return 0, err
		}
		if err := surrogate.Backward(); err != nil {
			ls.Close()
			return 0, err
		}
		var next *torch.Tensor
		if i >= 0 {
			if next, err = x.Grad(); err != nil {
				ls.Close()
				return 0, err
			}
		}
		ls.Close()
		s.Drop(inputs[i+1])
		grad = next
	}
	return lossValue, nil
}
