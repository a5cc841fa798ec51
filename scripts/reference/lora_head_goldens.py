"""LoRA goldens with modules_to_save: HF PEFT trains the output head in full beside the adapters
(LoraConfig(modules_to_save=["lm_head"])); golamini must load such an adapter, give PEFT's logits, merge it, and
train it along PEFT's loss curve.

    ~/.cache/golamini/venv-ref5/bin/python scripts/reference/lora_head_goldens.py   # after lora_goldens.py

For each model of lora_goldens.MODELS (GPT-NeoX with an untied head; the Llama one has tied embeddings, where PEFT
without ensure_weight_tying trains a copy of the head and leaves the input embedding alone) it writes, under
testdata/lora/<name>/:
  adapter-head/       a PEFT adapter over the family's default targets with modules_to_save ["lm_head"]
                      (transformers 5 names GPT-NeoX's embed_out module lm_head too), lora_B and the head's copy
                      perturbed so both matter: adapter_model.safetensors holds base_model.model.lm_head.weight;
  goldens-head.json   logits of base + adapter at a few positions, merge_and_unload's logits, and the per-step
                      losses of the plain PyTorch + PEFT loop of lora_goldens.py (AdamW) starting from adapter-head/.
"""
import json
import os

import torch
from peft import LoraConfig, get_peft_model

import lora_goldens as lg


def make_head_adapter(spec, seed):
    torch.manual_seed(seed)
    cfg = LoraConfig(r=lg.R, lora_alpha=lg.ALPHA, lora_dropout=0.0, target_modules=spec["default_targets"],
                     task_type="CAUSAL_LM", modules_to_save=["lm_head"])
    pm = get_peft_model(lg.base(spec), cfg)
    saved = [n for n, p in pm.named_parameters() if p.requires_grad and "lora_" not in n]
    assert saved == ["base_model.model.lm_head.modules_to_save.default.weight"], saved
    with torch.no_grad():
        for n, p in pm.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.2)
            elif "modules_to_save" in n:
                p.add_(torch.randn_like(p) * 0.05)
    return pm


def main():
    torch.set_num_threads(1)
    data = lg.train_rows()
    probe = [data[0], data[1][:len(data[1]) // 2]]
    for name, spec in lg.MODELS.items():
        out = os.path.join(lg.OUT, name)
        g = dict(model=os.path.relpath(spec["dir"], lg.ROOT), rows=data, probe_rows=probe, pad=spec["pad"])
        pm = make_head_adapter(spec, 5)
        adir = os.path.join(out, "adapter-head")
        lg.save(pm, spec, adir)
        g["logits"] = lg.picked_logits(pm, probe, spec["pad"])
        g["merged_logits"] = lg.picked_logits(pm.merge_and_unload(), probe, spec["pad"])
        c = dict(lg.CASES[0], batch_size=lg.BATCH, grad_accum=lg.ACCUM, steps=lg.STEPS, rows=len(data))
        c["losses"] = lg.train(spec, adir, c, data)
        g["cases"] = [c]
        print(name, c["name"], [round(x, 5) for x in c["losses"]])
        for k in ("logits", "merged_logits"):
            for e in g[k]:
                e["logits"] = [round(v, 6) for v in e["logits"]]
        with open(os.path.join(out, "goldens-head.json"), "w") as f:
            json.dump(g, f)


if __name__ == "__main__":
    main()
