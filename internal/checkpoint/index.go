package checkpoint

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// shardIndex is the JSON file (model.safetensors.index.json or
// pytorch_model.bin.index.json) that maps each tensor to its shard.
type shardIndex struct {
	Metadata  map[string]any    `json:"metadata"`
	WeightMap map[string]string `json:"weight_map"`
}

// openIndex opens a sharded checkpoint from its index file. Every shard must
// exist, and every tensor the index lists must be in the shard it names.
// Tensors a shard holds that the index does not list are kept too, as
// HuggingFace's loader keeps them; a tensor stored in two shards is an
// error.
func openIndex(indexPath, format string) (*Checkpoint, error) {
	raw, err := os.ReadFile(indexPath)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	var idx shardIndex
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&idx); err != nil {
		return nil, fmt.Errorf("checkpoint: %s: %w", indexPath, err)
	}
	if len(idx.WeightMap) == 0 {
		return nil, fmt.Errorf("checkpoint: %s: no \"weight_map\" entries", indexPath)
	}
	dir := filepath.Dir(indexPath)
	shardSet := map[string]bool{}
	for name, shard := range idx.WeightMap {
		if shard == "" || !filepath.IsLocal(shard) {
			return nil, fmt.Errorf("checkpoint: %s: weight_map[%q]: shard %q is not a file name inside the model directory", indexPath, name, shard)
		}
		shardSet[shard] = true
	}
	shards := make([]string, 0, len(shardSet))
	for s := range shardSet {
		shards = append(shards, s)
	}
	sort.Strings(shards)
	var missing []string
	for _, s := range shards {
		if _, err := os.Stat(filepath.Join(dir, s)); err != nil {
			missing = append(missing, s)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("checkpoint: %s: missing shard files in %s: %s", indexPath, dir, strings.Join(missing, ", "))
	}

	c := &Checkpoint{source: indexPath, format: format, entries: map[string]*entry{}}
	if err := c.addShards(dir, shards, idx.WeightMap, indexPath, format); err != nil {
		c.Close()
		return nil, err
	}
	c.finish()
	return c, nil
}

func (c *Checkpoint) addShards(dir string, shards []string, weightMap map[string]string, indexPath, format string) error {
	for _, s := range shards {
		if err := c.addFile(filepath.Join(dir, s), format); err != nil {
			return err // includes a tensor stored in two shards
		}
	}
	var absent []string
	for name, s := range weightMap {
		e, ok := c.entries[name]
		if !ok || e.file != filepath.Join(dir, s) {
			absent = append(absent, fmt.Sprintf("%q (in %s)", name, s))
		}
	}
	if len(absent) > 0 {
		sort.Strings(absent)
		more := ""
		if len(absent) > 10 {
			more = fmt.Sprintf(" and %d more", len(absent)-10)
			absent = absent[:10]
		}
		return errors.New("checkpoint: " + indexPath + ": tensors listed in weight_map are absent from their shard: " + strings.Join(absent, ", ") + more)
	}
	return nil
}
