#!/usr/bin/env python3
"""Train the project's small test tokenizer with HF `tokenizers`.

The tokenizer has the same pipeline as the Pythia (GPT-NeoX-20B) tokenizer:
NFC normalizer, ByteLevel pre-tokenizer (add_prefix_space=false), BPE model,
ByteLevel post-processor and decoder; added tokens id 0 `<|endoftext|>` and
id 1 `<|padding|>` (special, normalized=false) and, at the top of the
vocabulary, runs of 8 down to 2 spaces (special=false, normalized=true).
The vocabulary has 1024 ids in total, added tokens included.

It is trained on testdata/corpus/*.txt and the question+answer texts of
testdata/sdk_qa.jsonl, single-threaded, so the output is deterministic.

Writes (only) testdata/tokenizer/{tokenizer.json,tokenizer_config.json,
special_tokens_map.json}.

Run from the repository root:
    ~/.cache/golamini/venv-ref/bin/python scripts/reference/make_tokenizer.py
"""
import glob
import json
import os
import sys

# Single-threaded training: deterministic and polite on shared machines.
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ["RAYON_NUM_THREADS"] = "1"

from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers  # noqa: E402
from tokenizers import pre_tokenizers, processors, trainers  # noqa: E402

VOCAB_SIZE = 1024  # all ids, added tokens included
SPACE_RUNS = list(range(8, 1, -1))  # 8 spaces down to 2, like Pythia's 24..2
SPECIALS = ["<|endoftext|>", "<|padding|>"]
OUT = os.path.join("testdata", "tokenizer")


def training_texts():
    """The corpus files (sorted) and the Q&A texts (question + answer, the runner's form)."""
    texts = []
    files = sorted(glob.glob(os.path.join("testdata", "corpus", "*.txt")))
    if not files:
        sys.exit("make_tokenizer: no testdata/corpus/*.txt (run from the repository root)")
    for path in files:
        with open(path, encoding="utf-8") as f:
            texts.append(f.read())
    with open(os.path.join("testdata", "sdk_qa.jsonl"), encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            try:
                texts.append(row["question"] + row["answer"])
            except KeyError as e:
                sys.exit(f"make_tokenizer: testdata/sdk_qa.jsonl line {n}: missing key {e}")
    return texts


def build():
    tok = Tokenizer(models.BPE(unk_token=None, fuse_unk=False))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True)
    tok.post_processor = processors.ByteLevel(add_prefix_space=False, trim_offsets=True)
    tok.decoder = decoders.ByteLevel(add_prefix_space=False, trim_offsets=True)

    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE - len(SPACE_RUNS),
        min_frequency=2,
        show_progress=False,
        special_tokens=[AddedToken(s, special=True, normalized=False) for s in SPECIALS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(training_texts(), trainer=trainer)
    tok.add_tokens([AddedToken(" " * n, special=False, normalized=True) for n in SPACE_RUNS])

    # The Python constructors of this tokenizers version do not take add_prefix_space for the
    # decoder and post-processor; set it in the JSON so the file reads like Pythia's.
    d = json.loads(tok.to_str())
    for part in ("post_processor", "decoder"):
        d[part]["add_prefix_space"] = False
    tok = Tokenizer.from_str(json.dumps(d))

    if tok.get_vocab_size(with_added_tokens=True) != VOCAB_SIZE:
        sys.exit(f"make_tokenizer: vocab size {tok.get_vocab_size(with_added_tokens=True)}, want {VOCAB_SIZE}")
    for i, s in enumerate(SPECIALS):
        if tok.token_to_id(s) != i:
            sys.exit(f"make_tokenizer: {s!r} has id {tok.token_to_id(s)}, want {i}")
    return tok


def main():
    tok = build()
    os.makedirs(OUT, exist_ok=True)
    tok.save(os.path.join(OUT, "tokenizer.json"), pretty=True)
    # The keys of the Pythia hub files, without their machine-specific paths. Like Pythia's, the
    # config has no pad token and no clean_up_tokenization_spaces (transformers then cleans up).
    config = {
        "add_prefix_space": False,
        "bos_token": "<|endoftext|>",
        "eos_token": "<|endoftext|>",
        "name_or_path": "golamini/test-tokenizer",
        "tokenizer_class": "GPTNeoXTokenizer",
        "unk_token": "<|endoftext|>",
    }
    special = {"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>"}
    for name, obj in (("tokenizer_config.json", config), ("special_tokens_map.json", special)):
        with open(os.path.join(OUT, name), "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=2, sort_keys=True)
            f.write("\n")
    print(f"make_tokenizer: wrote {OUT}/ ({tok.get_vocab_size(with_added_tokens=True)} ids)", file=sys.stderr)


if __name__ == "__main__":
    main()
