package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/golamini/golamini/internal/testutil"
)

// TestRun runs the example on the demo model and checks what it claims:
// the same seed samples the same text, the streamed pieces join to the
// greedy text, and a batch row equals the same prompt alone.
func TestRun(t *testing.T) {
	var out bytes.Buffer
	args := []string{"-model", testutil.Testdata(t, "models", "demo"), "-max-new-tokens", "16"}
	if err := run(context.Background(), args, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	s := out.String()
	t.Log("\n" + s)
	for _, want := range []string{
		"same seed: true",
		"joined equal to the returned text: true, to greedy: true",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	greedy := regexp.MustCompile(`(?m)^greedy: +(".*")$`).FindStringSubmatch(s)
	batch0 := regexp.MustCompile(`(?m)^batch\[0\]: +".*" -> (".*")$`).FindStringSubmatch(s)
	if greedy == nil || batch0 == nil {
		t.Fatalf("output lacks the greedy or batch[0] line")
	}
	if greedy[1] != batch0[1] {
		t.Errorf("batch[0] = %s, alone = %s", batch0[1], greedy[1])
	}
	if greedy[1] == `""` {
		t.Errorf("greedy generated nothing")
	}
	if !regexp.MustCompile(`(?m)^stop at \.: ".*" \(stopped by (stop|eos|length)\)$`).MatchString(s) {
		t.Errorf("output lacks the stop-string line")
	}
}

func TestRunBadModel(t *testing.T) {
	err := run(context.Background(), []string{"-model", t.TempDir()}, &bytes.Buffer{})
	if err == nil {
		t.Fatal("run with an empty model directory succeeded")
	}
}
