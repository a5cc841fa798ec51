"""Run a GGUF file in llama.cpp (llama-cpp-python from scripts/llamacpp-venv) for the interop test of
`golamini export --format gguf` (runner/llamacpp_interop_test.go). Not on the product path.

  python scripts/reference/llamacpp_check.py REQUEST.json

REQUEST: {"gguf": FILE, "ids": [...], "new_tokens": N, "text": STR, "logits_out": FILE}
Writes the logits llama.cpp computes at every position of ids (float32, row-major, len(ids) × n_vocab)
to logits_out and prints one JSON line: n_vocab, the greedy continuation of ids (argmax, N tokens, not
stopping at EOS), llama.cpp's tokenization of text (no BOS added, special tokens parsed), and the
metadata llama.cpp read (architecture, chat template, BOS/EOS ids).
"""
import json
import sys

import numpy as np
import llama_cpp


def main():
    req = json.load(open(sys.argv[1]))
    ids = [int(i) for i in req["ids"]]
    n_new = int(req.get("new_tokens", 0))
    llm = llama_cpp.Llama(model_path=req["gguf"], n_ctx=max(64, len(ids) + n_new + 8), n_batch=512,
                          n_threads=1, n_threads_batch=1, logits_all=True, verbose=False)
    llm.reset()
    llm.eval(ids)
    logits = np.array(llm.scores[: len(ids)], dtype=np.float32)  # [len(ids), n_vocab]
    logits.tofile(req["logits_out"])
    greedy = []
    for _ in range(n_new):
        nxt = int(np.argmax(llm.scores[llm.n_tokens - 1]))
        greedy.append(nxt)
        llm.eval([nxt])
    tokens = llm.tokenize(req.get("text", "").encode(), add_bos=False, special=True) if req.get("text") else []
    md = llm.metadata
    print(json.dumps(dict(
        n_vocab=llm.n_vocab(), greedy=greedy, tokens=tokens,
        architecture=md.get("general.architecture"), chat_template=md.get("tokenizer.chat_template"),
        bos=llm.token_bos(), eos=llm.token_eos(), version=llama_cpp.__version__)))


if __name__ == "__main__":
    main()
