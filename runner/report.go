package runner

import (
	"fmt"

	"github.com/golamini/golamini/internal/model"
	"github.com/golamini/golamini/internal/torch"
)

// Report describes a model from its config.json alone (no weights needed).
type Report struct {
	Parameters                  int64 `json:"parameters"`
	ParametersWithoutEmbeddings int64 `json:"parameters_without_embeddings"`
	// FLOPs for Tokens tokens with HF's definition: 6 × tokens × parameters
	// without embeddings (forward + backward).
	Tokens int64 `json:"tokens"`
	FLOPs  int64 `json:"flops"`
	// MemoryBytes is what this SDK holds for the model in DType: parameters
	// plus rotary tables.
	MemoryBytes int64 `json:"memory_bytes"`
	// HFMemoryFootprintBytes is transformers' get_memory_footprint for the
	// same config (4.44's GPT-NeoX also keeps a [ctx, ctx] causal mask per
	// layer).
	HFMemoryFootprintBytes int64  `json:"hf_memory_footprint_bytes"`
	DType                  string `json:"dtype"`
	// Family is the HF class (GPTNeoXForCausalLM, LlamaForCausalLM, …).
	Family     string `json:"family"`
	Layers     int    `json:"layers"`
	HiddenSize int    `json:"hidden_size"`
	Heads      int    `json:"heads"`
	VocabSize  int    `json:"vocab_size"`
	Context    int    `json:"context"`
	ModuleTree string `json:"-"`
}

// Describe reads dir/config.json and reports the model's size, FLOPs for
// tokens tokens and memory in dtype ("" = float32), without loading weights.
func Describe(dir string, tokens int64, dtype string) (Report, error) {
	cfg, err := model.LoadConfig(dir)
	if err != nil {
		return Report{}, err
	}
	dt, err := parseDType(dtype)
	if err != nil {
		return Report{}, err
	}
	return report(cfg, tokens, dt), nil
}

func report(c model.Config, tokens int64, dt torch.DType) Report {
	return Report{
		Parameters:                  c.NumParameters(false),
		ParametersWithoutEmbeddings: c.NumParameters(true),
		Tokens:                      tokens,
		FLOPs:                       c.FLOPs(tokens),
		MemoryBytes:                 c.MemoryBytes(dt),
		HFMemoryFootprintBytes:      c.HFMemoryFootprint(dt),
		DType:                       dt.String(),
		Family:                      c.Family(),
		Layers:                      c.NumHiddenLayers,
		HiddenSize:                  c.HiddenSize,
		Heads:                       c.NumAttentionHeads,
		VocabSize:                   c.VocabSize,
		Context:                     c.MaxPositionEmbeddings,
		ModuleTree:                  c.ModuleTree(),
	}
}

// Report describes the loaded model; FLOPs are for tokens tokens.
func (r *Runner) Report(tokens int64) Report { return report(r.cfg, tokens, r.dtype) }

// FLOPs returns HF's floating_point_ops for tokens tokens.
func (r *Runner) FLOPs(tokens int64) int64 { return r.cfg.FLOPs(tokens) }

// String prints the model's module tree the way PyTorch prints HF's model.
func (r *Runner) String() string { return r.cfg.ModuleTree() }

// Summary is a short human-readable description.
func (rep Report) Summary() string {
	return fmt.Sprintf("%s: %d layers, hidden %d, %d heads, vocab %d, context %d\n"+
		"parameters: %d (%d without embeddings)\nmemory (%s): %.1f MB (HF footprint %.1f MB)\nFLOPs for %d tokens: %.6g GFLOPs\n",
		rep.Family, rep.Layers, rep.HiddenSize, rep.Heads, rep.VocabSize, rep.Context, rep.Parameters, rep.ParametersWithoutEmbeddings,
		rep.DType, float64(rep.MemoryBytes)/1e6, float64(rep.HFMemoryFootprintBytes)/1e6, rep.Tokens, float64(rep.FLOPs)/1e9)
}
