"""Summarise a libtorch operator trace (chrome://tracing JSON, written by
`bench/train profile -trace FILE` or by torch.autograd.profiler's
export_chrome_trace) into the table of where the time goes: self time per
operator and, for the memory-bound helpers (copy_, fill_, zero_, add_,
mul), which operator called them. Standard library only.

  python3 bench/train/trace_table.py TRACE.json [--top N] [--json]
"""
import argparse
import collections
import json
import sys


def load(path):
    with open(path) as f:
        ev = json.load(f)
    if isinstance(ev, dict):
        ev = ev.get("traceEvents", [])
    return [e for e in ev if e.get("ph") == "X" and "dur" in e]


def analyse(events):
    by_tid = collections.defaultdict(list)
    for e in events:
        by_tid[e.get("tid")].append(e)
    self_us = collections.Counter()
    calls = collections.Counter()
    helper_parent = collections.Counter()
    total = 0.0
    for evs in by_tid.values():
        evs.sort(key=lambda e: (e["ts"], -e["dur"]))
        stack = []  # (end, event, child time)
        def close_until(ts):
            nonlocal total
            while stack and stack[-1][0] <= ts + 1e-3:
                end, e, child = stack.pop()
                self_us[e["name"]] += e["dur"] - child
                if not stack:
                    total += e["dur"]
        for e in evs:
            close_until(e["ts"])
            if stack:
                stack[-1][2] += e["dur"]
                if e["name"] in HELPERS:
                    # the nearest ancestor that is not itself a helper or a view
                    parent = next((s[1]["name"] for s in reversed(stack) if s[1]["name"] not in HELPERS | GLUE), stack[0][1]["name"])
                    helper_parent[(e["name"], parent)] += e["dur"]
            elif e["name"] in HELPERS:
                helper_parent[(e["name"], "(top level)")] += e["dur"]
            calls[e["name"]] += 1
            stack.append([e["ts"] + e["dur"], e, 0.0])
        close_until(float("inf"))
    return total, self_us, calls, helper_parent


HELPERS = {"aten::copy_", "aten::fill_", "aten::zero_", "aten::add_", "aten::mul", "aten::mul_", "aten::add"}
GLUE = {"aten::contiguous", "aten::clone", "aten::to", "aten::_to_copy", "aten::zeros", "aten::zeros_like",
        "aten::empty_like", "aten::new_zeros", "aten::reshape", "aten::_reshape_alias", "aten::view"}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("trace")
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    total, self_us, calls, helper_parent = analyse(load(a.trace))
    if a.json:
        print(json.dumps(dict(total_s=total / 1e6, self_s={k: v / 1e6 for k, v in self_us.most_common(a.top)},
                              calls={k: calls[k] for k, _ in self_us.most_common(a.top)},
                              helpers={f"{h} in {p}": v / 1e6 for (h, p), v in helper_parent.most_common(a.top)})))
        return
    print(f"operator time in the trace: {total / 1e6:.3f} s (top-level operators)")
    print(f"{'operator':48} {'self s':>8} {'share':>6} {'calls':>6}")
    for name, us in self_us.most_common(a.top):
        print(f"{name:48} {us / 1e6:8.3f} {100 * us / total:5.1f}% {calls[name]:6d}")
    print()
    print("memory-bound helpers by the operator that called them:")
    for (h, parent), us in helper_parent.most_common(a.top):
        print(f"  {h:16} in {parent:44} {us / 1e6:7.3f} s")


if __name__ == "__main__":
    sys.exit(main())
