"""Load a model directory written by golamini with transformers' from_pretrained and print the logits
of fixed token ids as JSON, so a Go test can compare them with its own (internal/train tests).

    python scripts/reference/check_saved_model.py DIR ID ID ...
"""
import json
import os
import sys

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

d, ids = sys.argv[1], [int(x) for x in sys.argv[2:]]
kw = {"dtype": torch.float32} if int(__import__("transformers").__version__.split(".")[0]) >= 5 else {"torch_dtype": torch.float32}
model = AutoModelForCausalLM.from_pretrained(d, **kw).eval()
tok = None
if os.path.exists(os.path.join(d, "tokenizer.json")):
    tok = AutoTokenizer.from_pretrained(d)  # the tokenizer files must load too
with torch.no_grad():
    logits = model(torch.tensor([ids])).logits[0].float()
print(json.dumps({"class": type(model).__name__, "tokenizer": type(tok).__name__ if tok else None, "logits": logits.tolist()}))
