package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Per-rank checkpoint files. Every rank's rng_state_<rank>.json (HF Trainer
// writes rng_state_<rank>.pth per process the same way) is in the
// checkpoint before it becomes visible: each rank sends its state to rank 0
// through the process group's store, rank 0 writes them all into the
// temporary folder with the weights and renames it into place, and the
// other ranks wait until it has. A crash at any point leaves either the
// previous checkpoint or a complete new one, never one that lacks a rank's
// file. On resume each rank reads back its own. The global position
// (trainer_progress.json) is in rows of the epoch's order, which does not
// depend on the world size, so a run resumed with another world size keeps
// the order of the global batches; the rank files of the old world then
// have no rank to go to and are only checked to be there.

func rankStateName(rank int) string { return fmt.Sprintf("rng_state_%d.json", rank) }

// ErrIncompleteCheckpoint is returned (wrapped) when a checkpoint lacks a
// rank's rng_state_<rank>.json: it was not written by golamini's
// crash-safe save (an older version, or files removed by hand).
var ErrIncompleteCheckpoint = errors.New("incomplete checkpoint")

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

// gatherRankStates returns every rank's rng_state file contents on rank 0
// (in rank order) and nil on the others.
func (r *run) gatherRankStates() ([][]byte, error) {
	b, err := json.MarshalIndent(r.rankState(), "", "  ")
	if err != nil {
		return nil, err
	}
	b = append(b, '\n')
	if r.t.Dist == nil {
		return [][]byte{b}, nil
	}
	return r.t.Dist.Gather(b)
}

// checkpointWritten is every rank's wait until rank 0 has put checkpoint
// dir in place (rank 0 calls it after the rename).
func (r *run) checkpointWritten(dir string) error {
	if r.t.Dist == nil {
		return nil
	}
	if err := r.t.Dist.Barrier(); err != nil {
		return fmt.Errorf("train: checkpoint %s: %w", dir, err)
	}
	return nil
}

// checkRankFiles checks that checkpoint dir holds the rng_state file of
// every rank of the world that wrote it (p.WorldSize; 0 for checkpoints
// older than the rank files, which have none).
func checkRankFiles(dir string, p progress) error {
	for rank := 0; rank < p.WorldSize; rank++ {
		path := filepath.Join(dir, rankStateName(rank))
		if _, err := os.Stat(path); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("train: resume from %s: %w: %s is missing (trainer_progress.json says %d ranks wrote it)",
					dir, ErrIncompleteCheckpoint, rankStateName(rank), p.WorldSize)
			}
			return fmt.Errorf("train: resume from %s: %w", dir, err)
		}
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
