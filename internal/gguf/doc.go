// Package gguf reads and writes GGUF files, the single-file model format of
// llama.cpp, ollama and LM Studio, in pure Go.
//
// Open maps a GGUF v2 or v3 file read-only and parses its header, metadata
// and tensor descriptions; tensor data stays in the mapped file until a
// tensor is asked for. Parsing is strict: every count, length and offset read
// from the file is checked against the bytes the file actually holds before
// anything is allocated or sliced, and an error names the defect and the key
// or tensor it concerns.
//
// Dequantize turns a tensor stored as F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0,
// Q5_1, Q2_K, Q3_K, Q4_K, Q5_K or Q6_K into float32 values equal, bit for
// bit, to those of the Python gguf package's gguf.quants.dequantize: each
// value is computed with the same float32 operations in the same order.
//
// HFConfig and HFTensors map a llama, qwen2 or qwen3 GGUF to a HuggingFace
// model: the config.json document transformers builds from the metadata, and
// the HF tensor names with llama.cpp's Q/K row permutation undone, as
// transformers' GGUF loader does. HFTokenizer builds the tokenizer.json
// document and tokenizer_config fields from the tokenizer.ggml.* metadata.
//
// Writer writes a GGUF v3 file from metadata and tensors (laid out byte for
// byte as gguf.GGUFWriter lays it out), replacing the destination
// atomically; Quantize encodes F32, F16, BF16 and Q8_0 as gguf.quants does.
// ExportDir converts a HuggingFace Llama, Mistral, Qwen2 or Qwen3 directory
// to GGUF as llama.cpp's convert_hf_to_gguf.py does, and WriteHFDir gives a
// GGUF file a model directory (config.json, tokenizer files and a link to
// the file) for code that expects one.
package gguf
