#!/usr/bin/env python3
"""Interop of golamini's internal/hub with Python's huggingface_hub (0.24.7).

    python scripts/reference/hub_interop.py
        Golden: builds and starts the stand-in hub (go run-able as
        ./internal/hub/hubtest/cmd/hubserve), downloads its fixture models with
        huggingface_hub into a temporary cache, and writes the cache layout
        (paths, symlink targets, sizes, sha256) to
        internal/hub/testdata/python_cache_layout.json. Go's TestCacheLayoutMatchesPython
        compares its own downloads with it. Deterministic; writes only that file.

    python scripts/reference/hub_interop.py fill --endpoint URL --cache-dir D --repo ID [--how snapshot|files]
        Fills cache D from a running stand-in hub, as snapshot_download does
        (--how snapshot) or file by file as transformers' from_pretrained does
        (--how files, which records absent optional files under .no_exist/).
        Prints JSON: {"snapshot": dir, "files": {name: sha256}}.

    python scripts/reference/hub_interop.py read --cache-dir D --repo ID [--revision R] [--no-model]
        Reads cache D with HF_HUB_OFFLINE=1 and local_files_only=True (no
        network) and prints JSON: the snapshot dir, sha256 of every file, which
        optional files the cache records as absent, the safetensors tensor
        names, and, when transformers is installed, greedy tokens from the model.

Run from the repository root with the reference venv's python (the light venv
of requirements-light.txt is enough; transformers is used when present).
"""
import argparse
import fnmatch
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

GOLDEN = os.path.join("internal", "hub", "testdata", "python_cache_layout.json")
REQUIRED = ["config.json"]
OPTIONAL = ["generation_config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]
# transformers' order of preference for weights.
WEIGHTS = ["model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json"]
FIXTURES = ["golamini-test/tiny-neox", "golamini-test/tiny-neox-sharded", "golamini-test/tiny-neox-bin"]


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def select_files(siblings):
    """The files a client wants from a repository listing: config, the optional
    metadata present, and the first weights layout present (shards come from its index)."""
    wanted = [f for f in REQUIRED + OPTIONAL if f in siblings]
    for w in WEIGHTS:
        if w in siblings:
            return wanted + [w], w
    raise SystemExit("no weights in listing: %r" % sorted(siblings))


def download_selected(repo, cache_dir, endpoint, revision="main"):
    """snapshot_download of exactly the wanted files, then hf_hub_download of
    the absent optional files, which records them under .no_exist/ like
    transformers' from_pretrained does."""
    from huggingface_hub import HfApi, hf_hub_download, snapshot_download
    from huggingface_hub.utils import EntryNotFoundError

    info = HfApi(endpoint=endpoint).model_info(repo, revision=revision, token=False)
    siblings = {s.rfilename for s in info.siblings}
    wanted, weights = select_files(siblings)
    if weights.endswith(".index.json"):
        stem = weights[: -len(".index.json")]
        base, ext = os.path.splitext(stem)  # model / pytorch_model, .safetensors / .bin
        wanted += [s for s in sorted(siblings) if fnmatch.fnmatch(s, base + "-*-of-*" + ext)]
    snapshot = snapshot_download(repo, revision=revision, cache_dir=cache_dir, endpoint=endpoint,
                                 allow_patterns=wanted, token=False, max_workers=4)
    for name in OPTIONAL:
        if name not in siblings:
            try:
                hf_hub_download(repo, name, revision=revision, cache_dir=cache_dir, endpoint=endpoint, token=False)
            except EntryNotFoundError:
                pass
    return snapshot


def download_like_transformers(repo, cache_dir, endpoint, revision="main"):
    """hf_hub_download file by file, trying names as from_pretrained does."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.utils import EntryNotFoundError

    def get(name):
        try:
            return hf_hub_download(repo, name, revision=revision, cache_dir=cache_dir, endpoint=endpoint, token=False)
        except EntryNotFoundError:
            return None

    path = get("config.json")
    if path is None:
        raise SystemExit("%s has no config.json" % repo)
    for name in OPTIONAL:
        get(name)
    for w in WEIGHTS:
        p = get(w)
        if p is None:
            continue
        if w.endswith(".index.json"):
            with open(p) as f:
                for shard in sorted(set(json.load(f)["weight_map"].values())):
                    if get(shard) is None:
                        raise SystemExit("shard %s of %s missing" % (shard, repo))
        break
    return os.path.dirname(path)


def snapshot_files(snapshot):
    out = {}
    for root, _, files in os.walk(snapshot):
        for name in files:
            p = os.path.join(root, name)
            out[os.path.relpath(p, snapshot).replace(os.sep, "/")] = sha256_file(p)
    return dict(sorted(out.items()))


def cmd_fill(args):
    how = {"snapshot": download_selected, "files": download_like_transformers}[args.how]
    snapshot = how(args.repo, args.cache_dir, args.endpoint.rstrip("/"), args.revision)
    print(json.dumps({"snapshot": snapshot, "files": snapshot_files(snapshot)}, sort_keys=True))


def cmd_read(args):
    os.environ["HF_HUB_OFFLINE"] = "1"  # read before huggingface_hub is imported
    from huggingface_hub import hf_hub_download, snapshot_download, try_to_load_from_cache
    from huggingface_hub.file_download import _CACHED_NO_EXIST

    snapshot = snapshot_download(args.repo, revision=args.revision, cache_dir=args.cache_dir, local_files_only=True)
    files = {}
    for name in snapshot_files(snapshot):
        p = hf_hub_download(args.repo, name, revision=args.revision, cache_dir=args.cache_dir, local_files_only=True)
        files[name] = sha256_file(p)
    absent = [n for n in OPTIONAL
              if try_to_load_from_cache(args.repo, n, cache_dir=args.cache_dir, revision=args.revision) is _CACHED_NO_EXIST]
    tensors = {}
    from safetensors.numpy import load_file
    for name in files:
        if name.endswith(".safetensors"):
            for k, v in load_file(os.path.join(snapshot, name)).items():
                tensors[k] = list(v.shape)
    result = {"snapshot": snapshot, "files": files, "absent": absent, "tensors": dict(sorted(tensors.items()))}
    result["generated"] = None
    if not args.no_model:
        try:
            import transformers  # noqa: F401  (only in the full reference venv)
        except ImportError:
            pass
        else:
            result["generated"] = generate(args.repo, args.cache_dir, args.revision)
    print(json.dumps(result, sort_keys=True))


def generate(repo, cache_dir, revision):
    """Load the model from the cache with transformers and greedily generate 5 tokens."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    tok = AutoTokenizer.from_pretrained(repo, cache_dir=cache_dir, revision=revision, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(repo, cache_dir=cache_dir, revision=revision, local_files_only=True)
    ids = tok("the cache", return_tensors="pt").input_ids
    with torch.no_grad():
        out = model.generate(ids, max_new_tokens=5, do_sample=False, pad_token_id=0)
    return out[0].tolist()


def layout(cache_dir):
    """Every entry under the cache: dirs, files (size, sha256), symlinks (target)."""
    entries = []
    for root, dirs, files in os.walk(cache_dir):
        for name in sorted(dirs + files):
            p = os.path.join(root, name)
            rel = os.path.relpath(p, cache_dir).replace(os.sep, "/")
            if os.path.islink(p):
                entries.append({"path": rel, "type": "symlink", "target": os.readlink(p)})
            elif os.path.isdir(p):
                entries.append({"path": rel, "type": "dir"})
            else:
                entries.append({"path": rel, "type": "file", "size": os.path.getsize(p), "sha256": sha256_file(p)})
    return sorted(entries, key=lambda e: e["path"])


def cmd_golden(_args):
    import huggingface_hub
    tmp = tempfile.mkdtemp(prefix="hub_interop_")
    try:
        binary = os.path.join(tmp, "hubserve")
        subprocess.run(["go", "build", "-o", binary, "./internal/hub/hubtest/cmd/hubserve"], check=True)
        server = subprocess.Popen([binary, "--watch-stdin"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            info = json.loads(server.stdout.readline())
            os.environ["HF_HOME"] = os.path.join(tmp, "home")  # no user token, no user cache
            os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
            cache = os.path.join(tmp, "cache")
            for repo in FIXTURES:
                download_selected(repo, cache, info["endpoint"])
            golden = {
                "about": "huggingface_hub's cache after downloading hubtest's fixtures "
                         "(scripts/reference/hub_interop.py); Go must produce the same",
                "huggingface_hub": huggingface_hub.__version__,
                "commits": {r: info["repos"][r] for r in FIXTURES},
                "entries": layout(cache),
            }
        finally:
            server.stdin.close()
            server.wait(timeout=30)
        os.makedirs(os.path.dirname(GOLDEN), exist_ok=True)
        with open(GOLDEN, "w") as f:
            json.dump(golden, f, indent=1, sort_keys=True)
            f.write("\n")
        print("wrote %s (%d entries)" % (GOLDEN, len(golden["entries"])))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd")
    f = sub.add_parser("fill", help="download a model from a stand-in hub into a cache")
    f.add_argument("--endpoint", required=True)
    f.add_argument("--cache-dir", required=True)
    f.add_argument("--repo", required=True)
    f.add_argument("--revision", default="main")
    f.add_argument("--how", choices=["snapshot", "files"], default="snapshot")
    r = sub.add_parser("read", help="read a model from a cache without network")
    r.add_argument("--cache-dir", required=True)
    r.add_argument("--repo", required=True)
    r.add_argument("--revision", default="main")
    r.add_argument("--no-model", action="store_true", help="do not load the model with transformers")
    args = p.parse_args()
    {"fill": cmd_fill, "read": cmd_read, None: cmd_golden}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
