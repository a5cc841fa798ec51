"""products_table.py: the markdown table of one training step's matrix products,
from the JSON that bench/internal/floor writes (`families -mode floor`, `lora -floor`).
bench/families/run.sh and bench/lora/run.sh both print it."""


def print_products(title, f):
    """Prints a collapsed table of f["products"] under title."""
    print(f"\n<details><summary>{title} (batch {f['batch']} × {f['seq']}; ᵀ: a transposed view of the stored operand)</summary>\n")
    print("| product | shape | per step | GFLOP per step | probe GFLOP/s | floor s |")
    print("|---|---|---|---|---|---|")
    for l in f["products"]:
        half = " (causal half)" if l.get("fraction") else ""
        print(f"| {l['product']}{half} | {l['shape']} | {l['count']} | {l['gflop_per_step']:.4g} | {l['probe_gflop_s']:.1f} | {l['floor_s']:.4f} |")
    print("\n</details>")
