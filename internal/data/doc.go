// Package data is golamini's pure-Go data layer for fine-tuning: it reads
// question/answer pairs from JSON-lines and CSV files (streamed, with errors
// that name the file, line and key), tokenizes them the way the
// DeepLearning.AI course does (input + output, EOS, truncation from the
// left, optional answer-only loss), splits off a held-out set exactly as HF
// datasets' train_test_split does (numpy's seeded permutation, reproduced in
// Go), orders rows into batches with a resumable, optionally length-grouped
// sampler, and pads batches for the trainer.
//
// The package has no dependency on libtorch: it produces plain int slices.
package data
