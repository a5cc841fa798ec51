"""Make the tiny GPT-NeoX checkpoints under testdata/models and their goldens.

Run from the repo root with the reference venv (scripts/reference-venv):

    $(scripts/reference-venv) scripts/reference/model_goldens.py

Writes:
  testdata/models/tiny-pythia/            Pythia-style: parallel residual, rotary_pct 0.25, vocab 50304,
                                          untied; model.safetensors in float16
  testdata/models/tiny-seq/               sequential residual, rotary_pct 1.0, intermediate 96 (not 4×48),
                                          tied embeddings; model.safetensors float32 + the project tokenizer
  testdata/models/tiny-seq-fp16-bin/      the same weights as pytorch_model.bin in float16
  testdata/models/tiny-seq-bf16-sharded/  the same weights as bfloat16 safetensors shards + index
  testdata/models/tiny-seq-bin-sharded/   the same weights as float32 .bin shards + index
  testdata/models/goldens.json            logits, greedy continuations and model reports from
                                          transformers' GPTNeoXForCausalLM

Weights use a large init (std 0.1, random LayerNorm weights/biases and linear biases) so that a
swapped weight/bias, a dropped bias or a wrong rotary layout changes the outputs measurably. They are
rounded to values that bfloat16, float16 and float32 all represent exactly, so every storage variant
must give the same outputs.
"""
import json
import os
import shutil
import sys

import torch
import transformers
from tokenizers import Tokenizer
from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "testdata", "models")
TOK = os.path.join(ROOT, "testdata", "tokenizer")


def exact_in_all(t):
    """Round to bfloat16, then flush values float16 cannot hold exactly (below its normal range)."""
    t = t.to(torch.bfloat16).to(torch.float32)
    return torch.where(t.abs() < 2.0**-14, torch.zeros_like(t), t)


def init_weights(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "layernorm" in name or "layer_norm" in name:
                base = 1.0 if name.endswith("weight") else 0.0
                p.copy_(base + 0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            p.copy_(exact_in_all(p))


def make(cfg_kwargs, seed):
    cfg = GPTNeoXConfig(**cfg_kwargs)
    torch.manual_seed(seed)
    model = GPTNeoXForCausalLM(cfg).eval()
    init_weights(model, seed)
    if cfg.tie_word_embeddings:
        model.tie_weights()
    return model


def report(model):
    return {
        "parameters": model.num_parameters(),
        "parameters_without_embeddings": model.num_parameters(exclude_embeddings=True),
        "flops_8192": model.floating_point_ops({"input_ids": torch.zeros(1, 8192, dtype=torch.long)}),
        "memory_footprint": model.get_memory_footprint(),
        "module_tree": str(model),
    }


def goldens(model, inputs, cols, new_tokens=20):
    """Logits at valid positions (selected vocabulary columns + logsumexp over all), and greedy continuations."""
    B = len(inputs)
    T = max(len(x) for x in inputs)
    ids = torch.zeros(B, T, dtype=torch.long)
    mask = torch.zeros(B, T, dtype=torch.long)
    for i, x in enumerate(inputs):
        ids[i, : len(x)] = torch.tensor(x)
        mask[i, : len(x)] = 1
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask).logits.float()
    rows = []
    for i, x in enumerate(inputs):
        lg = logits[i, : len(x)]
        rows.append({
            "ids": x,
            "logits": lg[:, cols].tolist(),
            "logsumexp": torch.logsumexp(lg, dim=-1).tolist(),
            "argmax": lg.argmax(-1).tolist(),
        })
    greedy = []
    for x in inputs:
        with torch.no_grad():
            out = model.generate(torch.tensor([x]), attention_mask=torch.ones(1, len(x), dtype=torch.long),
                                 max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False,
                                 pad_token_id=0, eos_token_id=None, use_cache=True)
        greedy.append({"prompt": x, "new_ids": out[0, len(x):].tolist()})
    return {"columns": cols, "rows": rows, "greedy": greedy}


def scores(model, tok):
    """Per-token log-probabilities of texts, and lm-eval-harness style log-likelihoods."""
    texts = ["How do I fine-tune a model in Go?", "The runner loads a checkpoint.\n\nThen it trains  on CPU."]
    out = {"texts": [], "loglikelihood": []}
    for t in texts:
        ids = tok.encode(t, add_special_tokens=False).ids
        with torch.no_grad():
            lp = torch.log_softmax(model(torch.tensor([ids])).logits.float()[0, :-1], -1)
        out["texts"].append({"text": t, "ids": ids, "logprobs": lp.gather(1, torch.tensor(ids[1:])[:, None])[:, 0].tolist()})
    for ctx, cont in [("Question: What does the SDK train? Answer:", " GPT-NeoX models"), ("Go is a", " language")]:
        c, k = tok.encode(ctx, add_special_tokens=False).ids, tok.encode(cont, add_special_tokens=False).ids
        ids = torch.tensor([c + k])
        with torch.no_grad():
            lp = torch.log_softmax(model(ids).logits.float()[0], -1)
        pos = range(len(c) - 1, len(c) + len(k) - 1)
        total = sum(lp[p, ids[0, p + 1]].item() for p in pos)
        greedy = all(lp[p].argmax().item() == ids[0, p + 1].item() for p in pos)
        out["loglikelihood"].append({"context": ctx, "continuation": cont, "logprob": total, "greedy": greedy})
    return out


def copy_tokenizer(dst):
    for f in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(os.path.join(TOK, f), os.path.join(dst, f))


def fresh(name):
    d = os.path.join(OUT, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def main():
    torch.set_num_threads(1)
    result = {"transformers": transformers.__version__, "torch": torch.__version__, "models": {}}

    # Pythia-style (like pythia-70m, shrunk): parallel residual, partial rotary, vocab padded to 50304.
    pythia = make(dict(vocab_size=50304, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                       intermediate_size=128, rotary_pct=0.25, rotary_emb_base=10000, max_position_embeddings=128,
                       layer_norm_eps=1e-5, use_parallel_residual=True, tie_word_embeddings=False,
                       bos_token_id=0, eos_token_id=0, hidden_act="gelu"), seed=1)
    d = fresh("tiny-pythia")
    pythia.half().save_pretrained(d, safe_serialization=True)
    # Goldens come from the files as a user loads them (a fresh model in float32; converting the
    # in-memory model back and forth would also round HF's rotary cos/sin caches).
    pythia = GPTNeoXForCausalLM.from_pretrained(d, torch_dtype=torch.float32).eval()
    g = torch.Generator().manual_seed(11)
    inputs = [torch.randint(2, 50277, (9,), generator=g).tolist(), torch.randint(2, 50277, (5,), generator=g).tolist()]
    cols = sorted(set(list(range(0, 32)) + torch.randint(0, 50304, (96,), generator=g).tolist()))
    result["models"]["tiny-pythia"] = {**goldens(pythia, inputs, cols), **report(pythia)}

    # Sequential residual, full rotary, intermediate not 4×hidden, tied embeddings, the project tokenizer.
    seq = make(dict(vocab_size=1024, hidden_size=48, num_hidden_layers=2, num_attention_heads=4,
                    intermediate_size=96, rotary_pct=1.0, rotary_emb_base=10000, max_position_embeddings=128,
                    layer_norm_eps=1e-5, use_parallel_residual=False, tie_word_embeddings=True,
                    bos_token_id=0, eos_token_id=0, hidden_act="gelu"), seed=2)
    d = fresh("tiny-seq")
    seq.save_pretrained(d, safe_serialization=True)
    copy_tokenizer(d)
    seq.half().save_pretrained(fresh("tiny-seq-fp16-bin"), safe_serialization=False)
    seq.to(torch.bfloat16).save_pretrained(fresh("tiny-seq-bf16-sharded"), safe_serialization=True, max_shard_size="100KB")
    seq.float().save_pretrained(fresh("tiny-seq-bin-sharded"), safe_serialization=False, max_shard_size="100KB")
    seq = GPTNeoXForCausalLM.from_pretrained(os.path.join(OUT, "tiny-seq"), torch_dtype=torch.float32).eval()
    g = torch.Generator().manual_seed(12)
    inputs = [torch.randint(2, 1024, (8,), generator=g).tolist(), torch.randint(2, 1024, (3,), generator=g).tolist(),
              torch.randint(2, 1024, (6,), generator=g).tolist()]
    result["models"]["tiny-seq"] = {**goldens(seq, inputs, list(range(0, 1024, 8))), **report(seq)}
    result["models"]["tiny-seq"]["scores"] = scores(seq, Tokenizer.from_file(os.path.join(TOK, "tokenizer.json")))

    # The pythia-70m configuration: reports only (built on the meta device, no weights).
    with torch.device("meta"):
        p70 = GPTNeoXForCausalLM(GPTNeoXConfig(vocab_size=50304, hidden_size=512, num_hidden_layers=6,
                                               num_attention_heads=8, intermediate_size=2048, rotary_pct=0.25,
                                               max_position_embeddings=2048, use_parallel_residual=True,
                                               tie_word_embeddings=False, bos_token_id=0, eos_token_id=0))
    result["pythia-70m-config"] = p70.config.to_dict()
    result["models"]["pythia-70m"] = report(p70)

    with open(os.path.join(OUT, "goldens.json"), "w") as f:
        json.dump(result, f)
    print("wrote", OUT, file=sys.stderr)


if __name__ == "__main__":
    main()
