package train

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/golamini/golamini/internal/model"
	"github.com/golamini/golamini/internal/testutil"
	"github.com/golamini/golamini/internal/torch"
)

// referencePython returns a Python with transformers (the reference venv),
// or skips.
func referencePython(t *testing.T) string {
	t.Helper()
	candidates := []string{os.Getenv("GOLAMINI_REF_PYTHON")}
	if home, err := os.UserHomeDir(); err == nil {
		candidates = append(candidates, filepath.Join(home, ".cache", "golamini", "venv-ref", "bin", "python"))
	}
	for _, p := range candidates {
		if p == "" {
			continue
		}
		if err := exec.Command(p, "-c", "import transformers, torch").Run(); err == nil {
			return p
		}
	}
	t.Skip("no Python with transformers and torch (make goldens creates ~/.cache/golamini/venv-ref; or set GOLAMINI_REF_PYTHON)")
	return ""
}

// A model directory written by WriteModelDir after training loads with
// transformers' from_pretrained (and AutoTokenizer) and gives our logits.
func TestSavedModelLoadsInTransformers(t *testing.T) {
	py := referencePython(t)
	g := loadTrainGoldens(t)
	dir := t.TempDir()
	a := reproArgs(dir, "adamw", 1e-3, 1, 1, 2)
	if _, _, err := trainLosses(t, a, tokenized(g.Rows[:4]), g.EOS); err != nil {
		t.Fatal(err)
	}
	ours, hf, maxDiff := compareWithTransformers(t, py, dir, g.Rows[0][:10])
	if ours != "GPTNeoXForCausalLM" || hf != ours || maxDiff > 1e-4 {
		t.Errorf("transformers loaded %s (ours %s), max |logit diff| %g", hf, ours, maxDiff)
	}
}

// compareWithTransformers loads the model directory dir here and with
// transformers' from_pretrained (scripts/reference/check_saved_model.py run by
// py) and returns both sides' architecture names and the largest difference
// between their logits for ids.
func compareWithTransformers(t *testing.T, py, dir string, ids []int) (ours, hf string, maxDiff float64) {
	t.Helper()
	var want []float32
	err := torch.Do(context.Background(), func() error {
		m, err := model.Load(context.Background(), dir, model.DefaultLoadOptions())
		if err != nil {
			return err
		}
		defer m.Free()
		ours = m.Config.Family()
		defer torch.NoGrad()()
		s := torch.NewScope()
		defer s.Close()
		in := make([]int64, len(ids))
		for i, id := range ids {
			in[i] = int64(id)
		}
		lg := m.Logits(s, m.Forward(s, s.Int64(in, 1, int64(len(in))), model.Pass{}))
		if err := s.Err(); err != nil {
			return err
		}
		want, err = lg.Float32s()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	args := []string{filepath.Join(testutil.RepoRoot(t), "scripts", "reference", "check_saved_model.py"), dir}
	for _, id := range ids {
		args = append(args, strconv.Itoa(id))
	}
	cmd := exec.Command(py, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("from_pretrained failed: %v\n%s", err, stderr.String())
	}
	var got struct {
		Class  string      `json:"class"`
		Logits [][]float64 `json:"logits"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	V := len(want) / len(ids)
	for i := range got.Logits {
		for j := range got.Logits[i] {
			maxDiff = math.Max(maxDiff, math.Abs(got.Logits[i][j]-float64(want[i*V+j])))
		}
	}
	return ours, got.Class, maxDiff
}
