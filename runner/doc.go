// Package runner fine-tunes and runs open LLMs (GPT-NeoX / Pythia, Llama,
// SmolLM, Mistral, Qwen2, Qwen3) on your own machine, in the spirit of
// Lamini's BasicModelRunner:
//
//	r, err := runner.New("EleutherAI/pythia-410m")
//	err = r.LoadDataFromJSONLines("lamini_docs.jsonl", "question", "answer")
//	res, err := r.Train()
//	answer, err := r.Infer("How do I add data to Lamini?")
//
// It is real deep learning on libtorch (CPU or CUDA) through gotch: a
// network per model family written in Go that loads HuggingFace checkpoints and
// matches transformers' logits, a byte-level BPE tokenizer identical to HF
// tokenizers, and a trainer that follows HF Trainer's TrainingArguments.
//
// All tensor work of the process runs on one goroutine locked to one OS
// thread (libtorch keeps grad mode and its thread team per thread), so a
// Runner may be used from several goroutines at once; calls are serialised.
package runner
