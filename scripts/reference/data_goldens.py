"""Goldens for internal/data: numpy's seeded permutation (HF datasets' split), HF's
length-grouped ordering, and the course's tokenization with the Pythia tokenizer.

Run from the repository root:
    ~/.cache/golamini/venv-ref/bin/python scripts/reference/data_goldens.py

Writes testdata/data/numpy_goldens.json, testdata/data/tokenize_goldens.json, the small
reader fixtures testdata/data/fixture_*.{jsonl,csv} and fixtures_expected.json (what Python's
json and csv modules read from them).
Deterministic. The tokenization part and the check of the shared split files need
../shared/data (or $GOLAMINI_SHARED); without it those parts are skipped with a message
and the existing tokenize goldens are left alone.

Facts reproduced here (and by the Go code):
- HF datasets' Dataset.train_test_split(test_size=f, shuffle=True, seed=s) draws
  np.random.default_rng(s).permutation(n); n_test = ceil(f * n); test = perm[:n_test],
  train = perm[n_test:n_test + n_train] with n_train = n - n_test. (`datasets` is not
  installed in the reference venv; the rule is restated here from its source.)
- golamini's Sampler draws each epoch's order as np.random.default_rng([seed, epoch])
  .permutation(n) and, with length grouping, hands that order to HF transformers'
  own get_length_grouped_indices (trainer_pt_utils) in place of torch.randperm.
"""

import json
import math
import os
import sys

import numpy as np

REPO = os.getcwd()
OUT_DIR = os.path.join(REPO, "testdata", "data")


def shared_dir():
    env = os.environ.get("GOLAMINI_SHARED")
    if env:
        return env
    return os.path.join(REPO, "..", "shared")


def entropy_arg(entropy):
    return entropy[0] if len(entropy) == 1 else list(entropy)


def seed_sequence_cases():
    cases = []
    for entropy in ([0], [1], [123], [2**32 - 1], [2**32], [2**64 - 1], [7, 0], [123, 5],
                    [1, 2, 3, 4, 5, 6]):
        ss = np.random.SeedSequence(entropy_arg(entropy))
        bg = np.random.PCG64(entropy_arg(entropy))
        st = bg.state["state"]
        cases.append({
            "entropy": [str(v) for v in entropy],
            "pool": [int(v) for v in ss.pool],
            "state32": [int(v) for v in ss.generate_state(8, np.uint32)],
            "pcg_state": "%032x" % st["state"],
            "pcg_inc": "%032x" % st["inc"],
            "raw64": [str(int(v)) for v in bg.random_raw(6)],
        })
    return cases


def permutation_cases():
    cases = []
    for n in (0, 1, 2, 3, 10, 33, 100, 1400):
        for entropy in ([0], [42], [123], [2**32 + 5], [2**63 + 11], [123, 1]):
            perm = np.random.default_rng(entropy_arg(entropy)).permutation(n)
            cases.append({"n": n, "entropy": [str(v) for v in entropy],
                          "perm": [int(v) for v in perm]})
    return cases


def hf_split(n, test_size, seed):
    n_test = math.ceil(test_size * n)
    n_train = n - n_test
    if n_test == 0 or n_train == 0:
        return None
    perm = np.random.default_rng(seed).permutation(n)
    return perm[:n_test].tolist(), perm[n_test:n_test + n_train].tolist()


def split_cases():
    cases = []
    for n, f, seed in ((2, 0.1, 123), (3, 0.5, 1), (10, 0.1, 123), (10, 0.25, 7), (57, 0.2, 0),
                       (101, 0.1, 123), (1400, 0.1, 123), (1399, 0.1, 123), (1000, 0.3, 2024)):
        got = hf_split(n, f, seed)
        test, train = got
        cases.append({"n": n, "test_fraction": f, "seed": seed, "test": test, "train": train})
    return cases


def sampler_cases():
    import torch
    from transformers import trainer_pt_utils

    lengths_rng = np.random.default_rng(99)
    cases = []
    for n, batch, seed, shuffle, group, mult in ((37, 4, 123, True, True, None),
                                                 (37, 4, 123, True, False, None),
                                                 (37, 4, 123, False, True, None),
                                                 (200, 8, 5, True, True, None),
                                                 (200, 3, 5, True, True, 2),
                                                 (9, 4, 1, True, True, None)):
        lengths = [int(v) for v in lengths_rng.integers(1, 300, size=n)]
        epochs = []
        for epoch in range(3):
            if shuffle:
                order = np.random.default_rng([seed, epoch]).permutation(n)
            else:
                order = np.arange(n)
            if group:
                real = torch.randperm
                torch.randperm = lambda k, generator=None: torch.tensor(order, dtype=torch.int64)
                try:
                    order = trainer_pt_utils.get_length_grouped_indices(lengths, batch, mega_batch_mult=mult)
                finally:
                    torch.randperm = real
            order = [int(v) for v in order]
            epochs.append([order[i:i + batch] for i in range(0, n, batch)])
        cases.append({"lengths": lengths, "batch_size": batch, "seed": seed, "shuffle": shuffle,
                      "group_by_length": group, "mega_batch_mult": mult or 0, "epochs": epochs})
    return cases


def check_shared_split(shared):
    """Proves, in Python, that the HF rule over the 1400 raw rows gives the shared split files."""
    data = os.path.join(shared, "data")
    with open(os.path.join(data, "lamini_docs.jsonl"), "rb") as f:
        rows = f.read().split(b"\n")
    test, train = hf_split(len(rows), 0.1, 123)
    for name, idx in (("lamini_docs_test.jsonl", test), ("lamini_docs_train.jsonl", train)):
        with open(os.path.join(data, name), "rb") as f:
            want = f.read().rstrip(b"\n").split(b"\n")
        got = [rows[i] for i in idx]
        if got != want:
            sys.exit("split check failed for %s" % name)
    print("shared split check: 1260/140 rows equal to the shared files; row 950 is in %s"
          % ("test" if 950 in test else "train"))


def tokenize_cases(shared):
    from transformers import PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast(tokenizer_file=os.path.join(shared, "data", "pythia-tokenizer.json"),
                                  bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                                  unk_token="<|endoftext|>", clean_up_tokenization_spaces=False)
    tok.pad_token = tok.eos_token
    rows = []
    with open(os.path.join(shared, "data", "lamini_docs.jsonl"), encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i in (0, 1, 7, 950, 1384, 1385):
                rows.append(json.loads(line))
    cases = []
    for template in ("", "### Question:\n{input}\n\n### Answer:"):
        for append_eos in (False, True):
            for max_length in (0, 24):
                for r in rows:
                    inp, out = r["question"], r["answer"]
                    if inp == "" and out == "":
                        continue
                    prompt = template.replace("{input}", inp) if template else inp
                    text = prompt + out + (tok.eos_token if append_eos else "")
                    # The course: truncation from the left, max_length = min(len, 2048).
                    tok.truncation_side = "left"
                    full = tok(text)["input_ids"]
                    limit = min(len(full), 2048) if max_length == 0 else min(max_length, 2048)
                    ids = tok(text, truncation=True, max_length=limit)["input_ids"]
                    prompt_ids = tok(prompt)["input_ids"]
                    cases.append({"input": inp, "output": out, "template": template,
                                  "append_eos": append_eos, "max_length": max_length,
                                  "input_ids": ids, "full_ids": full, "full_length": len(full),
                                  "prompt_ids": prompt_ids})
    return cases


# Reader fixtures: the format corners the Go readers must handle, as raw bytes.
FIXTURES = {
    # UTF-8 BOM, CRLF, blank and whitespace-only lines, a both-empty row, \u escapes
    # with a surrogate pair, raw UTF-8, an extra key, and no final newline.
    "fixture_crlf_bom.jsonl": (
        b'\xef\xbb\xbf{"question": "What is Lamini?", "answer": "An LLM engine."}\r\n'
        b'\r\n'
        b'   \t\r\n'
        b'{"question": "", "answer": ""}\r\n'
        b'{"answer": "Caf\\u00e9 \xe2\x98\x95 and \\ud83d\\ude00", "question": "Non-ASCII?", "extra": [1, {"a": null}]}\r\n'
        b'{"question": "Line\\nbreak", "answer": "tab\\there \\"quoted\\" \\/ \\\\u0041"}'
    ),
    # LF endings, duplicate key (last wins, as in Python), only an output, final newline.
    "fixture_lf.jsonl": (
        b'{"input": "a", "output": "b"}\n'
        b'{"input": "x", "input": "y", "output": "z"}\n'
        b'{"input": "", "output": "only output"}\n'
    ),
    # BOM, CRLF, quoted commas, doubled quotes, CRLF and LF inside quoted fields, an empty line,
    # a both-empty row, a bare quote in an unquoted field, raw UTF-8, no final newline.
    "fixture_quoted.csv": (
        b'\xef\xbb\xbfid,prompt,completion\r\n'
        b'1,"Hello, world","He said ""hi"""\r\n'
        b'\r\n'
        b'2,"multi\r\nline question","and\nLF"\r\n'
        b'3,,\r\n'
        b'4,say "x" now,ok\r\n'
        b'5,Caf\xc3\xa9,"x,y"'
    ),
}


def write_fixtures():
    expected = {}
    for name, raw in FIXTURES.items():
        path = os.path.join(OUT_DIR, name)
        os.makedirs(OUT_DIR, exist_ok=True)
        with open(path, "wb") as f:
            f.write(raw)
        examples, rows, skipped = [], 0, []
        if name.endswith(".jsonl"):
            ik, ok = ("question", "answer") if "question" in raw.decode("utf-8-sig") else ("input", "output")
            for lineno, line in enumerate(raw.decode("utf-8-sig").split("\n"), start=1):
                line = line.rstrip("\r")
                if line.strip(" \t\r") == "":
                    continue
                obj = json.loads(line)
                inp, out = obj[ik], obj[ok]
                if inp == "" and out == "":
                    skipped.append(lineno)
                else:
                    examples.append({"input": inp, "output": out, "row": rows})
                rows += 1
        else:
            ik, ok = "prompt", "completion"
            import csv
            import io
            reader = csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""))
            header = None
            for rec in reader:
                if not rec:
                    continue
                if header is None:
                    header = rec
                    continue
                inp, out = rec[header.index(ik)], rec[header.index(ok)]
                if inp == "" and out == "":
                    skipped.append(-1)  # Python's csv does not give start lines
                else:
                    examples.append({"input": inp, "output": out, "row": rows})
                rows += 1
        expected[name] = {"input_key": ik, "output_key": ok, "rows": rows, "skipped": len(skipped),
                          "skipped_lines": [l for l in skipped if l > 0], "examples": examples}
    write("fixtures_expected.json", expected)


def write(name, obj):
    os.makedirs(OUT_DIR, exist_ok=True)
    path = os.path.join(OUT_DIR, name)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, separators=(",", ":"))
        f.write("\n")
    print("wrote", os.path.relpath(path, REPO), os.path.getsize(path), "bytes")


def main():
    write_fixtures()
    write("numpy_goldens.json", {
        "numpy_version": np.__version__,
        "seed_sequence": seed_sequence_cases(),
        "permutation": permutation_cases(),
        "split": split_cases(),
        "sampler": sampler_cases(),
    })
    shared = shared_dir()
    if not os.path.isdir(os.path.join(shared, "data")):
        print("skipping shared-data parts: %s/data not found" % shared)
        return
    check_shared_split(shared)
    import transformers
    write("tokenize_goldens.json", {"transformers_version": transformers.__version__,
                                    "cases": tokenize_cases(shared)})


if __name__ == "__main__":
    main()
