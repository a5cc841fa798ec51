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
// Concurrency: libtorch work is serialised per process. Grad mode,
// libtorch's last-error slot and its OpenMP thread team belong to an OS
// thread, so all tensor work of the process runs on one goroutine locked to
// one thread, one call at a time. A Runner may therefore be used from
// several goroutines at once, and Close may be called at any time. Every
// call that does tensor work takes a context (Infer's is InferContext): a
// call waiting behind another (a long training run) gives up when its
// context ends, without running.
//
// Errors: calls return errors that match the sentinels of this package
// with errors.Is (ErrClosed, ErrNotFound, ErrUnauthorized, ErrOffline,
// ErrCancelled, ErrBadData, ErrNoData, ErrBadCheckpoint, ErrUnsupported,
// ErrInternal); each call's documentation says which. Messages name the
// file, line, key or tensor concerned.
package runner
