"""Turns bench/out/train/*.jsonl (written by bench/train/run.sh) into the
markdown tables of bench/RESULTS-train.md. Standard library only.

  python3 bench/train/report.py bench/out/train
"""
import json
import os
import sys


def lines(path):
    if not os.path.exists(path):
        return []
    out = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                out.append(json.loads(line))
    return out


def ok(rows):
    return [r for r in rows if "result" in r]


def by_label(rows):
    groups = {}
    for r in ok(rows):
        groups.setdefault(r["label"], []).append(r)
    return groups


def fmt(x, digits=1):
    return "–" if x is None else f"{x:,.{digits}f}"


def errors(rows):
    bad = [r for r in rows if "error" in r]
    return "".join(f"\n- {r['label']} (round {r['round']}) failed: `{r['error'].strip().splitlines()[-1] if r['error'].strip() else '?'}`" for r in bad)


def tokens_section(d):
    rows = lines(os.path.join(d, "tokens.jsonl"))
    if not rows:
        return ""
    g = by_label(rows)
    out = ["## Training tokens/s: pythia-70m shape, fp32, batch 4 × 512, AdamW", "",
           "Best step of 3 (after 1 warm-up) per run, best run of all rounds; CPU = process CPU seconds per step "
           "(all threads, best); loads are the 1-minute load average when each run started.", "",
           "| run | tokens/s (best) | tokens/s (median of runs) | s/step | CPU s/step | peak RSS MB | loads |",
           "|---|---:|---:|---:|---:|---:|---|"]
    best = {}
    for label, rs in g.items():
        tps = [r["result"]["tokens_per_s"] for r in rs]
        cpu = min(r["result"]["cpu_s_per_step"] for r in rs)
        rss = max(r["result"]["peak_rss_mb"] for r in rs)
        med = sorted(tps)[len(tps) // 2]
        best[label] = (max(tps), cpu)
        step = 2048 / max(tps)
        out.append(f"| {label} | {fmt(max(tps))} | {fmt(med)} | {step:.2f} | {cpu:.2f} | {rss:,.0f} | "
                   f"{', '.join(r['load'].split()[0] for r in rs)} |")
    out += ["", "Ratios (golamini ÷ HF; tokens/s, and HF CPU ÷ golamini CPU per step):", "",
            "| threads | golamini build | vs HF 4.44.2 / torch 2.1.0 | vs HF 5.24.0 / torch 2.15.0 |", "|---|---|---:|---:|"]
    for tl in ["default threads", "1 thread"]:
        for ours in ["golamini", "golamini + proposed patches"]:
            k = f"{ours}, {tl}"
            if k not in best:
                continue
            cells = []
            for hf in ["hf 4.44.2 / torch 2.1.0", "hf 5.24.0 / torch 2.15.0"]:
                h = best.get(f"{hf}, {tl}")
                cells.append("–" if not h else f"{best[k][0] / h[0]:.2f}× (CPU {h[1] / best[k][1]:.2f}×)")
            out.append(f"| {tl} | {ours} | {cells[0]} | {cells[1]} |")
    go = {k: v for k, v in best.items() if k.startswith("golamini")}
    hf = {k: v for k, v in best.items() if k.startswith("hf")}
    if go and hf:
        gk = max(go, key=lambda k: go[k][0])
        hk = max(hf, key=lambda k: hf[k][0])
        x = go[gk][0] / hf[hk][0]
        out += ["", f"**golamini's best {go[gk][0]:,.1f} tokens/s ({gk}) = {x:.2f}× the fastest HF configuration "
                f"({hk}, {hf[hk][0]:,.1f} tokens/s)**; the target of ≥ 1.25× is {'met' if x >= 1.25 else 'not met'} "
                f"in this run."]
    return "\n".join(out) + errors(rows) + "\n"


def profile_section(d):
    rows = ok(lines(os.path.join(d, "profile.jsonl")))
    if not rows:
        return ""
    phases = []
    for r in rows:
        for p in r["result"]["phases"]:
            if p not in phases:
                phases.append(p)
    out = ["## Where a step's time goes (1 thread, wall seconds, median of 2 steps)", "",
           "| phase | " + " | ".join(r["label"] for r in rows) + " |", "|---|" + "---:|" * len(rows)]
    for p in phases:
        out.append(f"| {p} | " + " | ".join(fmt(r["result"]["median_wall_s"].get(p), 3) for r in rows) + " |")
    out.append("| **step** | " + " | ".join(f"**{r['result']['step_wall_s']:.2f}**" for r in rows) + " |")
    out.append("| tokens/s | " + " | ".join(fmt(r["result"]["tokens_per_s"]) for r in rows) + " |")
    out.append("| load | " + " | ".join(r["load"].split()[0] for r in rows) + " |")
    try:
        gap = gap_paragraph(d, rows)
    except (KeyError, ValueError, ZeroDivisionError, IndexError) as e:
        gap = f"(gap to the matmul peak not computed: {e!r})"
    if gap:
        out += ["", gap]
    t = os.path.join(d, "trace-table.txt")
    if os.path.exists(t):
        out += ["", "libtorch's operator trace of one step of the last golamini column (self time per operator, "
                "and which operators the memory-bound helpers ran for):", "", "```", open(t).read().rstrip(), "```"]
    return "\n".join(out) + errors(lines(os.path.join(d, "profile.jsonl"))) + "\n"


# Matrix-product work of one step: 6 × tokens × the parameters that enter
# products (pythia-70m: 44,670,976 without embed_in), plus causal attention
# (QKᵀ and PV over half the positions, forward and the backward's four
# products): 6 layers × 4 × 8 heads × 512² / 2 × 64 × 2 × 3.
MATMUL_GFLOP = 6 * 2048 * 44_670_976 / 1e9
ATTENTION_GFLOP = 6 * 4 * 8 * 512 * 512 / 2 * 64 * 2 * 3 / 1e9


def gap_paragraph(d, rows):
    """What separates golamini's traced 1-thread step from the time its
    matrix-product FLOPs take at the matmul rate measured in the same run."""
    traced = [r for r in rows if r["label"].startswith("golamini") and "traced" in r["label"]]
    micro = [r for r in ok(lines(os.path.join(d, "micro.jsonl"))) if r["result"].get("threads") == 1]
    t = os.path.join(d, "trace-table.txt")
    if not traced or not micro or not os.path.exists(t):
        return ""
    ops = {}
    for line in open(t):
        f = line.split()
        if len(f) >= 4 and (f[0].startswith("aten::") or f[0].startswith("torch::")):
            try:
                ops[f[0]] = float(f[1])
            except ValueError:
                pass
    x = traced[0]["result"]
    step = x["step_wall_s"]
    rate = micro[0]["result"]["gemm_gflops"]
    ideal = (MATMUL_GFLOP + ATTENTION_GFLOP) / rate
    mm = sum(ops.get(k, 0) for k in ("aten::mm", "aten::addmm", "aten::addmm_"))
    attn = sum(v for k, v in ops.items() if "attention" in k)
    softmax = ops.get("aten::_softmax", 0)
    adamw = x["median_wall_s"].get("adamw", 0) + x["median_wall_s"].get("grad norm + clip", 0)
    other = step - mm - attn - softmax - adamw
    return (f"**The gap to the matmul peak** (golamini's traced step, 1 thread): the step's products are "
            f"{MATMUL_GFLOP:.0f} GFLOP of weight products plus {ATTENTION_GFLOP:.0f} of causal attention, "
            f"{ideal:.2f} s at the {rate:.0f} GFLOP/s that one thread's matmul reached in this run, against a "
            f"{step:.2f} s step. The weight products took {mm:.2f} s ({MATMUL_GFLOP / mm:.0f} GFLOP/s: the small "
            f"per-layer shapes run below the large product's rate); libtorch's flash attention {attn:.2f} s "
            f"(forward and backward, {ATTENTION_GFLOP / max(attn, 1e-9):.0f} GFLOP/s: blocks of 64 head dimensions "
            f"are far from a matmul's efficiency); the loss head's softmax over 50,304 words {softmax:.2f} s; "
            f"AdamW and the gradient norm {adamw:.2f} s (memory-bound: 70 M parameters, 2 GB read and written); "
            f"everything else (embedding gradient zero-fill, bias copies, GELU, LayerNorm, rotary, residual adds, "
            f"the profiler itself) {other:.2f} s.")


def micro_section(d):
    rows = ok(lines(os.path.join(d, "micro.jsonl")))
    if not rows:
        return ""
    out = ["## The pieces alone", ""]
    for r in rows:
        x = r["result"]
        out.append(f"- {r['label']} (load {r['load'].split()[0]}): matmul [2044×512]·[512×50304] "
                   f"{x['gemm_gflops']:.0f} GFLOP/s wall, {x['gemm_gflops_per_cpu_s']:.0f} GFLOP per CPU second.")
        if "head_fwd_bwd" in x:
            h = x["head_fwd_bwd"]
            cells = ", ".join(f"{k.replace('fused_chunk_', 'fused, chunk ')} {v['cpu_s']:.2f}" for k, v in sorted(h.items()))
            out.append(f"  - loss head forward+backward, CPU s: {cells}")
        if "attention_6_layers_fwd_bwd" in x:
            a = x["attention_6_layers_fwd_bwd"]
            out.append(f"  - attention, 6 layers forward+backward, CPU s: explicit mask (math path) {a['mask_math']['cpu_s']:.2f}, "
                       f"causal without mask (flash) {a['causal']['cpu_s']:.2f}")
        if "rotary_6_layers_fwd_bwd" in x:
            a = x["rotary_6_layers_fwd_bwd"]
            out.append(f"  - rotary on q and k, 6 layers forward+backward, CPU s: index_select swap {a['index_select']['cpu_s']:.2f}, "
                       f"cat swap {a['cat']['cpu_s']:.2f}")
    return "\n".join(out) + "\n"


def epoch_section(d):
    rows = lines(os.path.join(d, "epoch.jsonl"))
    if not rows:
        return ""
    out = ["## One epoch of lamini_docs train (1,260 rows), pythia-70m shape, random weights", "",
           "HF: the course's settings (batch 1, every row padded to the split's longest, 480 tokens), the first rows "
           "of the split in file order, time extrapolated to all rows. golamini: the same rows in length-grouped "
           "batches of 8 padded to their longest row, AdamW, default threads.", "",
           "| run | rows | steps | padded tokens | real tokens | wall s | epoch wall s | epoch CPU s | peak RSS MB | load |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    res = {}
    for r in ok(rows):
        x = r["result"]
        res[r["label"]] = x
        out.append(f"| {r['label']} | {x['examples']} | {x['steps']} | {x['padded_tokens']:,} | {x['real_tokens']:,} | "
                   f"{x['wall_s']:.1f} | {x['epoch_wall_s']:,.0f} | {x['epoch_cpu_s']:,.0f} | {x['peak_rss_mb']:,.0f} | {r['load'].split()[0]} |")
    ours = [(k, v) for k, v in res.items() if k.startswith("golamini")]
    hfs = [(k, v) for k, v in res.items() if k.startswith("hf")]
    if ours and hfs:
        out += ["", "Wall-time ratios (HF epoch ÷ golamini epoch; same-fraction runs, and golamini's whole split "
                "measured directly):", ""]
        for ok_, ov in ours:
            cells = "; ".join(f"{hk.split(',')[0]}: {hv['epoch_wall_s'] / ov['epoch_wall_s']:.1f}×" for hk, hv in hfs)
            out.append(f"- {ok_}: {cells}")
        worst = min(hv["epoch_wall_s"] / ov["epoch_wall_s"] for _, ov in ours for _, hv in hfs)
        out += ["", f"**The fastest HF epoch takes {worst:.1f}× golamini's** (the least of the ratios above); the "
                f"target of ≥ 3× less wall time is {'met' if worst >= 3 else 'not met'} in this run."]
    return "\n".join(out) + errors(rows) + "\n"


def leak_section(d):
    rows = lines(os.path.join(d, "leak.jsonl"))
    if not rows:
        return ""
    out = ["## Resident memory over 1000 steps (golamini)", ""]
    for r in ok(rows):
        x = r["result"]
        m = x["model"]
        pts = ", ".join(f"{p['step']}: {p['rss_mb']:.1f}" for p in x["points"])
        out.append(f"- {r['label']}: {m['layers']} layers, hidden {m['hidden']}, {m['heads']} heads, intermediate "
                   f"{m['intermediate']}, vocabulary {m['vocab']:,}; batch {x['batch']} × {x['seq']} tokens, AdamW, "
                   f"{x['steps']} steps. RSS read after every step, each time after a Go garbage collection "
                   f"(`runtime.GC`); largest over steps 51–100: {x['rss_mb_at_100']:.1f} MB, largest over the last 50 "
                   f"steps: {x['rss_mb_at_end']:.1f} MB: **{x['growth_pct']:+.2f}%**. Largest RSS (MB) over each "
                   f"100 steps: {pts}. The target of under 1% growth is "
                   f"{'met' if x['growth_pct'] < 1 else 'not met'} in this run.")
    return "\n".join(out) + errors(rows) + "\n"


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "bench/out/train"
    m = {}
    mp = os.path.join(d, "machine.json")
    if os.path.exists(mp):
        m = json.load(open(mp))
    parts = [f"Machine: {m.get('cpu', '?')}, {m.get('nproc', '?')} CPUs, {m.get('mem_gib', '?')} GiB; commit "
             f"{m.get('commit', '?')}; {m.get('date', '?')}; load average {m.get('load_start', '?')} at the start, "
             f"{m.get('load_end', '?')} at the end; {m.get('rounds', '?')} rounds.", ""]
    for f in (tokens_section, profile_section, micro_section, epoch_section, leak_section):
        s = f(d)
        if s:
            parts += [s]
    print("\n".join(parts))


if __name__ == "__main__":
    main()
