package hub

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
)

// Files Resolve fetches besides the weights. Only config.json is required.
var metadataFiles = []string{
	"config.json",
	"generation_config.json",
	"tokenizer.json",
	"tokenizer_config.json",
	"special_tokens_map.json",
}

const configFile = "config.json"

// weightFiles are the weights layouts in order of preference, as
// transformers looks for them: safetensors (single, then sharded), then
// PyTorch pickles (single, then sharded). Names ending in ".index.json" list
// their shards in "weight_map".
var weightFiles = []string{
	"model.safetensors",
	"model.safetensors.index.json",
	"pytorch_model.bin",
	"pytorch_model.bin.index.json",
}

func isIndex(name string) bool {
	return len(name) > len(".index.json") && name[len(name)-len(".index.json"):] == ".index.json"
}

// plan is what to fetch for one commit, decided from the hub's file list.
type plan struct {
	files   []string // metadata files present upstream, then the weights file or index
	weights string   // the chosen entry of weightFiles
	absent  []string // optional metadata files the repository lacks
}

// choose picks the files to fetch from a repository's file list.
func choose(model string, siblings []string) (plan, error) {
	have := map[string]bool{}
	for _, s := range siblings {
		have[s] = true
	}
	var p plan
	if !have[configFile] {
		return p, fmt.Errorf("%w: model %q has no %s (is it a transformers model?)", ErrNotFound, model, configFile)
	}
	for _, f := range metadataFiles {
		if have[f] {
			p.files = append(p.files, f)
		} else {
			p.absent = append(p.absent, f)
		}
	}
	for _, w := range weightFiles {
		if have[w] {
			p.weights = w
			p.files = append(p.files, w)
			return p, nil
		}
	}
	return p, fmt.Errorf("%w: model %q has no weights: none of %v in its file list", ErrNotFound, model, weightFiles)
}

// readShards returns the shard files an index's weight_map names, sorted.
func readShards(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read weights index: %w", err)
	}
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("weights index %s: %w", path, err)
	}
	if len(idx.WeightMap) == 0 {
		return nil, fmt.Errorf("weights index %s: field weight_map is missing or empty", path)
	}
	seen := map[string]bool{}
	var shards []string
	for tensor, shard := range idx.WeightMap {
		if err := validateRepoFile(shard); err != nil {
			return nil, fmt.Errorf("weights index %s: weight_map[%q]: %w", path, tensor, err)
		}
		if !seen[shard] {
			seen[shard] = true
			shards = append(shards, shard)
		}
	}
	sort.Strings(shards)
	return shards, nil
}

// cachedWeights reports whether the snapshot holds a complete weights
// layout (an index counts only with all its shards), and lists what is missing otherwise.
func cachedWeights(c repoCache, commit string) (bool, string) {
	for _, w := range weightFiles {
		if !c.hasFile(commit, w) {
			continue
		}
		if !isIndex(w) {
			return true, ""
		}
		shards, err := readShards(c.pointerPath(commit, w))
		if err != nil {
			return false, err.Error()
		}
		for _, s := range shards {
			if !c.hasFile(commit, s) {
				return false, fmt.Sprintf("shard %s listed in %s", s, w)
			}
		}
		return true, ""
	}
	return false, fmt.Sprintf("weights (one of %v)", weightFiles)
}

// snapshotState says whether a cached snapshot can be used.
//
// usable: config.json and a complete weights layout are there (enough
// offline). complete: besides, every optional metadata file is there or
// recorded as absent upstream (enough to skip the network when online).
// missing names what is lacking, for error messages.
func snapshotState(c repoCache, commit string) (usable, complete bool, missing []string) {
	if st, err := os.Stat(c.snapshotDir(commit)); err != nil || !st.IsDir() {
		return false, false, []string{"snapshot " + commit}
	}
	usable = true
	if !c.hasFile(commit, configFile) {
		usable = false
		missing = append(missing, configFile)
	}
	if ok, what := cachedWeights(c, commit); !ok {
		usable = false
		missing = append(missing, what)
	}
	complete = usable
	for _, f := range metadataFiles[1:] {
		if !c.hasFile(commit, f) && !c.knownAbsent(commit, f) {
			complete = false
			if usable {
				missing = append(missing, f)
			}
		}
	}
	return usable, complete, missing
}
