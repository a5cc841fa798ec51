// Package hub finds a model's files on disk, downloading them from the
// HuggingFace hub when needed, with the cache layout Python's huggingface_hub
// uses, so both share one cache in both directions.
//
// Resolve maps a model name to a local directory holding config.json, the
// tokenizer files and the weights:
//
//  1. an existing local directory is returned as is;
//  2. otherwise the snapshot in the HuggingFace cache ($HF_HUB_CACHE, else
//     $HF_HOME/hub, else ~/.cache/huggingface/hub), found through
//     models--{org}--{name}/refs/{revision}, is returned without any network
//     request when it holds every wanted file;
//  3. otherwise the files are downloaded from the hub ($HF_ENDPOINT, default
//     https://huggingface.co) into that cache: blobs/{etag}, then the relative
//     symlink snapshots/{commit}/{file}, then refs/{revision}.
//
// Downloads resume from blobs/{etag}.incomplete with Range requests, verify the
// sha256 of LFS files (and the git blob id of small files), go through a
// temporary file and a rename, run concurrently, and take the same flock on
// .locks/models--{org}--{name}/{etag}.lock as huggingface_hub, so several
// processes (Go or Python) downloading one model fetch each file once.
package hub
