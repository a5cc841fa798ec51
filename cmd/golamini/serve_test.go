package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
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

// TestServeAdapters: `serve --adapter DIR` (repeated) lists each adapter in
// /v1/models and runs a request naming one with it: greedy text equals
// `golamini infer --adapter DIR`, and the base model's name runs without
// any, also when requests for different adapters arrive together.
func TestServeAdapters(t *testing.T) {
	model := testutil.Testdata(t, "models", "tiny-seq")
	a1 := testutil.Testdata(t, "lora", "gpt-neox", "adapter")
	a2 := testutil.Testdata(t, "lora", "gpt-neox", "adapter-rslora")
	prompts := []string{"the cat", "a b c d"}
	// What infer prints, per model name the server knows.
	want := map[string]map[string]string{}
	for name, extra := range map[string][]string{"tiny-seq": nil, "adapter": {"--adapter", a1}, "adapter-rslora": {"--adapter", a2}} {
		want[name] = map[string]string{}
		for _, p := range prompts {
			args := append([]string{"infer", "--model", model, "--prompt", p, "--max-new-tokens", "8", "--quiet", "--json"}, extra...)
			out, stderr, code := run(t, "", args...)
			if code != 0 {
				t.Fatalf("%v: exit %d: %s", args, code, stderr)
			}
			var g struct{ Text string }
			if err := json.Unmarshal([]byte(out), &g); err != nil {
				t.Fatalf("infer --json: %v: %s", err, out)
			}
			want[name][p] = g.Text
		}
	}
	if want["adapter"][prompts[0]] == want["tiny-seq"][prompts[0]] && want["adapter-rslora"][prompts[0]] == want["tiny-seq"][prompts[0]] {
		t.Fatalf("the adapters do not change the greedy text %q: the test cannot tell them apart", want["tiny-seq"][prompts[0]])
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	var errb strings.Builder
	go func() {
		done <- runMain(ctx, []string{"serve", "--model", model, "--model-name", "tiny-seq", "--adapter", a1, "--adapter", a2, "--port", port, "--grace", "1s", "--quiet"}, strings.NewReader(""), io.Discard, &errb)
	}()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exit %d: %s", code, errb.String())
		}
	}()
	url := "http://127.0.0.1:" + port
	for i := 0; ; i++ {
		resp, err := http.Get(url + "/health")
		if err == nil {
			resp.Body.Close()
			break
		}
		if i == 300 {
			t.Fatalf("server not up: %v\n%s", err, errb.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	resp, err := http.Get(url + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Data []struct {
			ID     string  `json:"id"`
			Parent *string `json:"parent"`
		} `json:"data"`
	}
	json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	var ids []string
	for _, m := range list.Data {
		ids = append(ids, m.ID)
		if (m.Parent != nil) != (m.ID != "tiny-seq") || (m.Parent != nil && *m.Parent != "tiny-seq") {
			t.Errorf("model %s: parent %v", m.ID, m.Parent)
		}
	}
	if !slices.Equal(ids, []string{"tiny-seq", "adapter", "adapter-rslora"}) {
		t.Errorf("/v1/models lists %v", ids)
	}

	complete := func(model, prompt string) (int, string, string) {
		body, _ := json.Marshal(map[string]any{"model": model, "prompt": prompt, "max_tokens": 8, "temperature": 0})
		resp, err := http.Post(url+"/v1/completions", "application/json", bytes.NewReader(body))
		if err != nil {
			return 0, "", err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var cr struct {
			Model   string                  `json:"model"`
			Choices []struct{ Text string } `json:"choices"`
		}
		if json.Unmarshal(b, &cr) != nil || len(cr.Choices) != 1 {
			return resp.StatusCode, "", string(b)
		}
		return resp.StatusCode, cr.Choices[0].Text, cr.Model
	}
	// One at a time, then all together (mixed adapters arrive at once).
	for _, name := range []string{"adapter", "tiny-seq", "adapter-rslora"} {
		if code, text, m := complete(name, prompts[0]); code != 200 || text != want[name][prompts[0]] || m != name {
			t.Errorf("model %s: %d %q (model %q), infer gives %q", name, code, text, m, want[name][prompts[0]])
		}
	}
	var wg sync.WaitGroup
	for i := 0; i < 12; i++ {
		name := []string{"adapter", "tiny-seq", "adapter-rslora"}[i%3]
		p := prompts[i/3%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			if code, text, _ := complete(name, p); code != 200 || text != want[name][p] {
				t.Errorf("concurrent, model %s, prompt %q: %d %q, infer gives %q", name, p, code, text, want[name][p])
			}
		}()
	}
	wg.Wait()
	// An unknown model is a 400 naming the field and the served names.
	body := `{"model":"nope","prompt":"x","max_tokens":2}`
	resp, err = http.Post(url+"/v1/completions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var e struct {
		Error struct {
			Message string  `json:"message"`
			Param   *string `json:"param"`
		} `json:"error"`
	}
	json.Unmarshal(b, &e)
	if resp.StatusCode != 400 || e.Error.Param == nil || *e.Error.Param != "model" || !strings.Contains(e.Error.Message, `"adapter-rslora"`) {
		t.Errorf("unknown model: %d %s", resp.StatusCode, b)
	}
}
