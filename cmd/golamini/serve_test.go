package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/golamini/golamini/internal/testutil"
)

func TestServeFlags(t *testing.T) {
	for _, args := range [][]string{{"serve"}, {"serve", "--model", "x", "--port", "70000"}, {"serve", "--model", "x", "--max-batch", "0"}} {
		if _, stderr, code := run(t, "", args...); code != 2 {
			t.Errorf("%v: exit %d: %s", args, code, stderr)
		}
	}
}

// TestServeExitsCleanly: when its context ends (SIGTERM in main), serve
// stops and exits 0; binding every interface without a key warns.
func TestServeExitsCleanly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var out, errb strings.Builder
	code := runMain(ctx, []string{"serve", "--model", testutil.Testdata(t, "models", "demo"), "--host", "0.0.0.0", "--port", "0", "--grace", "1s"}, strings.NewReader(""), &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(errb.String(), "without an API key") {
		t.Errorf("no warning for 0.0.0.0 without --api-key:\n%s", errb.String())
	}
}
