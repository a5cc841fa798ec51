"""Loads a LoRA adapter with HF PEFT and prints the logits it gives, for golamini's interop test
(internal/lora TestAdapterLoadsInPEFT): an adapter saved by golamini must load in PeftModel.from_pretrained
and give golamini's logits.

    ~/.cache/golamini/venv-ref5/bin/python scripts/reference/lora_interop.py MODEL_DIR ADAPTER_DIR < ids.json

stdin: {"ids": [[...], ...]} (rows of equal length); stdout: {"logits": [[[...V floats] per position] per row],
"merged_logits": ...} (the second from merge_and_unload).
"""
import json
import sys

import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM


def main():
    model_dir, adapter_dir = sys.argv[1], sys.argv[2]
    ids = torch.tensor(json.load(sys.stdin)["ids"], dtype=torch.long)
    torch.set_num_threads(1)
    base = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    pm = PeftModel.from_pretrained(base, adapter_dir)
    pm.eval()
    with torch.no_grad():
        out = {"logits": pm(input_ids=ids).logits.tolist()}
        out["merged_logits"] = pm.merge_and_unload()(input_ids=ids).logits.tolist()
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
