"""Markdown report of bench/gguf/run.sh (plain python3, no packages).

  python3 bench/gguf/report.py RESULTS.jsonl SIZES.json PROMPT.json TINY LLAMA_ERROR
"""
import json
import sys


def lead(a, b):
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def short(text, n=90):
    text = text.replace("\n", "\\n").replace("|", "\\|")
    return text if len(text) <= n else text[:n] + "…"


def main():
    rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
    sizes = json.load(open(sys.argv[2]))
    prompt = json.load(open(sys.argv[3]))
    tiny, llama_err = sys.argv[4] == "1", sys.argv[5]
    ok = [r for r in rows if "result" in r]
    new = ok[0]["result"]["new_tokens"] if ok else "?"
    print("### GGUF decode: SmolLM2-135M-Instruct Q4_1, golamini vs transformers vs llama.cpp"
          + (" (TINY smoke run: 16 new tokens, 1 round; numbers mean nothing)" if tiny else ""))
    print()
    print(f"Batch 1, greedy, {new} new tokens after the chat template applied to one question "
          f"({len(prompt['prompt_ids'])} prompt tokens), best tokens/s over the rounds (prefill included), "
          "interleaved round by round. Weight bytes per token are from the file's tensor table: llama.cpp reads "
          "the blocks as stored; golamini and transformers dequantize to float32 at load and read 4 bytes a weight.")
    print()
    qb, fb = sizes["quantized_bytes"], sizes["fp32_bytes"]
    read = {"golamini": fb, "hf": fb, "llama.cpp": qb}
    names = {"golamini": "golamini (fp32)", "hf": "transformers (fp32)", "llama.cpp": "llama.cpp (Q4_1/Q8_0 as stored)"}
    versions = {}
    best, errs = {}, {}
    for r in rows:
        k = (r["impl"], r["threads"])
        if "result" in r:
            versions.setdefault(r["impl"], r["result"].get("version", ""))
            if r["result"]["tokens_per_s"] > best.get(k, {}).get("tokens_per_s", -1):
                best[k] = r["result"]
        else:
            errs[k] = r["error"]
    threads = sorted({r["threads"] for r in rows})
    print("| implementation | threads | tokens/s | golamini ÷ it | weights read per token | weight GB/s |")
    print("|---|---|---|---|---|---|")
    for th in threads:
        g = best.get(("golamini", th))
        for impl in ("golamini", "hf", "llama.cpp"):
            if impl == "llama.cpp" and llama_err:
                print(f"| {names[impl]} | {th} | not built: {short(llama_err, 200)} | – | {qb / 1e6:.1f} MB | – |")
                continue
            b = best.get((impl, th))
            if b is None:
                e = errs.get((impl, th))
                if e is not None:
                    print(f"| {names[impl]} | {th} | error: {short(e, 200)} | – | {read[impl] / 1e6:.1f} MB | – |")
                continue
            tps = b["tokens_per_s"]
            ratio = f"{g['tokens_per_s'] / tps:.2f}×" if g else "–"
            print(f"| {names[impl]} | {th} | {tps:.1f} | {ratio} | {read[impl] / 1e6:.1f} MB | {tps * read[impl] / 1e9:.1f} |")
    print()
    print(f"llama.cpp reads {fb / qb:.1f}× fewer weight bytes per token than a float32 decoder "
          f"({qb / 1e6:.1f} MB: {', '.join(f'{t} {n / 1e6:.1f} MB' for t, n in sorted(sizes['quantized_bytes_type'].items()))}; "
          f"float32: {fb / 1e6:.1f} MB for {sizes['weights'] / 1e6:.1f} M weights).")
    if versions:
        print("Versions: " + "; ".join(f"{names[k]}: {v}" for k, v in versions.items() if v) + ".")
    print()
    # Greedy agreement: the last successful run of each implementation (all runs of one are identical).
    last = {}
    for r in ok:
        last[r["impl"]] = r["result"]
    ref = prompt["prompt_ids"]
    notes = []
    if "golamini" in last:
        p = last["golamini"]["prompt_ids"]
        notes.append("golamini's own chat rendering and tokenization " + ("equal" if p == ref else f"DIFFER from (first {lead(p, ref)} of {len(ref)} equal)")
                     + " transformers' apply_chat_template ids")
    if "llama.cpp" in last and last["llama.cpp"].get("own_prompt_ids") is not None:
        p = last["llama.cpp"]["own_prompt_ids"]
        notes.append("llama.cpp's tokenization of the rendered text " + ("equals" if p == ref else f"DIFFERS from (first {lead(p, ref)} of {len(ref)} equal)")
                     + " them (llama.cpp is given transformers' ids)")
    if notes:
        print("Prompt: " + "; ".join(notes) + ".")
        print()
    impls = [i for i in ("golamini", "hf", "llama.cpp") if i in last]
    if len(impls) > 1:
        print("| greedy tokens agree | leading tokens equal |")
        print("|---|---|")
        for i, a in enumerate(impls):
            for b in impls[i + 1:]:
                x, y = last[a]["new_ids"], last[b]["new_ids"]
                print(f"| {names[a]} vs {names[b]} | {lead(x, y)} of {min(len(x), len(y))} |")
        print()
    if "llama.cpp" in last and any(lead(last[i]["new_ids"], last["llama.cpp"]["new_ids"]) == 0 for i in ("golamini", "hf") if i in last):
        print("**llama.cpp's first greedy token already differs: its build computes other logits on this file (a broken "
              "quantized kernel on this CPU?), so its speed is not of the same computation.**")
        print()
    for i in impls:
        print(f"- {names[i]}: `{short(last[i]['text'])}`")


if __name__ == "__main__":
    main()
