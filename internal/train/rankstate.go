package train

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Per-rank checkpoint files. Rank 0 writes the checkpoint; then every rank
// writes its own rng_state_<rank>.json into it (HF Trainer writes
// rng_state_<rank>.pth per process the same way), and on resume each rank
// reads back its own. The global position (trainer_progress.json) is in
// rows of the epoch's order, which does not depend on the world size, so a
// run resumed with another world size keeps the order of the global
// batches; the rank files of the old world then have no rank to go to and
// are only checked against it.

func rankStateName(rank int) string { return fmt.Sprintf("rng_state_%d.json", rank) }

// rank is this process's data-parallel rank (0 without Dist).
func (r *run) rank() int {
	if r.t.Dist == nil {
		return 0
	}
	return r.t.Dist.Rank()
}

// rankState is this rank's state now.
func (r *run) rankState() rankState {
	pd := r.a.PerDeviceTrainBatchSize
	return rankState{Rank: r.rank(), WorldSize: r.world(), Seed: r.a.Seed, DropoutKey: r.prog.MicroBatches,
		Sampler: r.sampler.State(), ShardOffset: r.rank() * pd, ShardSize: pd}
}

// writeRankState writes this rank's file into the checkpoint dir.
func (r *run) writeRankState(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil { // another node's disk: rank 0 wrote the checkpoint elsewhere
		return err
	}
	return writeJSONAtomic(filepath.Join(dir, rankStateName(r.rank())), r.rankState())
}

// shareCheckpoint runs on every rank after rank 0 has put checkpoint dir
// in place: the other ranks add their files, and all wait until they have.
func (r *run) shareCheckpoint(dir string) error {
	if r.t.Dist == nil {
		return nil
	}
	if err := r.t.Dist.Barrier(); err != nil {
		return fmt.Errorf("train: checkpoint %s: %w", dir, err)
	}
	if !r.isMain() {
		if err := r.writeRankState(dir); err != nil {
			return fmt.Errorf("train: checkpoint %s: rank %d: %w", dir, r.rank(), err)
		}
	}
	if err := r.t.Dist.Barrier(); err != nil {
		return fmt.Errorf("train: checkpoint %s: %w", dir, err)
	}
	return nil
}

// resumeRank reads this rank's file of checkpoint dir (after the global
// state was restored) and checks that it agrees: the same seed and
// position, and, when the world size is the checkpoint's, the same slice
// of every global batch. A checkpoint of another world size has no file
// for this rank's part; the global position stands.
func (r *run) resumeRank(dir string, p progress) error {
	path := filepath.Join(dir, rankStateName(r.rank()))
	var st rankState
	err := readJSON(path, &st)
	if errors.Is(err, os.ErrNotExist) {
		if p.WorldSize != 0 && p.WorldSize == r.world() {
			return fmt.Errorf("train: resume from %s: %s is missing: the checkpoint is incomplete", dir, rankStateName(r.rank()))
		}
		return nil // an older checkpoint, or another world size with fewer ranks
	}
	if err != nil {
		return fmt.Errorf("train: resume from %s: %w", dir, err)
	}
	if st.Seed != r.a.Seed {
		return fmt.Errorf("train: resume from %s: %s: seed %d, this run's is %d", dir, path, st.Seed, r.a.Seed)
	}
	if st.WorldSize != r.world() {
		r.t.Log.Info().Int("checkpoint_world_size", st.WorldSize).Int("world_size", r.world()).
			Msg("resuming with another world size: the global batches keep their order")
		return nil
	}
	want := r.rankState()
	if st.Rank != want.Rank || st.DropoutKey != want.DropoutKey || st.Sampler != want.Sampler ||
		st.ShardOffset != want.ShardOffset || st.ShardSize != want.ShardSize {
		return fmt.Errorf("train: resume from %s: %s (%+v) does not agree with trainer_progress.json and this run (%+v)", dir, path, st, want)
	}
	return nil
}
