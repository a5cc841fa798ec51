package serve

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/golamini/golamini/internal/constrain"
)

// plainTemplate is a fixed chat format for testing the endpoint's plumbing
// (the real templates come from the model's tokenizer_config.json).
type plainTemplate struct{}

func (plainTemplate) Render(ms []ChatMessage, gen bool) (string, error) {
	var b strings.Builder
	for _, m := range ms {
		fmt.Fprintf(&b, "%s: %s\n", m.Role, m.Content)
	}
	if gen {
		b.WriteString("assistant:")
	}
	return b.String(), nil
}
func (plainTemplate) Stop() []string { return []string{"\nuser:"} }
func (plainTemplate) StopIDs() []int { return nil }

func newTestServer(t *testing.T, mod func(*Options)) (*Server, *httptest.Server) {
	t.Helper()
	d := loadDemo(t)
	o := DefaultOptions()
	o.ModelID = "demo"
	o.ChatTemplate = plainTemplate{}
	o.Logger = zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	if mod != nil {
		mod(&o)
	}
	s := New(d.do, d.tok, d.m.Config, o)
	ts := httptest.NewServer(s)
	t.Cleanup(func() { ts.Close(); s.Close() })
	return s, ts
}

func post(t *testing.T, url, body string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// sseEvents reads "data: ..." lines until [DONE].
func sseEvents(t *testing.T, r io.Reader) (chunks []map[string]any, done bool) {
	t.Helper()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			t.Fatalf("not an SSE data line: %q", line)
		}
		if data == "[DONE]" {
			return chunks, true
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(data), &m); err != nil {
			t.Fatalf("chunk %q: %v", data, err)
		}
		chunks = append(chunks, m)
	}
	return chunks, false
}

func TestModelsHealthMetrics(t *testing.T) {
	_, ts := newTestServer(t, nil)
	resp, err := http.Get(ts.URL + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	var ml modelList
	json.NewDecoder(resp.Body).Decode(&ml)
	resp.Body.Close()
	if ml.Object != "list" || len(ml.Data) != 1 || ml.Data[0].ID != "demo" || ml.Data[0].Object != "model" {
		t.Errorf("models: %+v", ml)
	}
	for path, want := range map[string]int{"/v1/models/demo": 200, "/v1/models/other": 404, "/health": 200} {
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s: %d, want %d", path, resp.StatusCode, want)
		}
	}
	post(t, ts.URL+"/v1/completions", `{"model":"demo","prompt":"hi","max_tokens":3,"temperature":0}`)
	resp, err = http.Get(ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"# TYPE golamini_requests_total counter", `golamini_requests_total{endpoint="/v1/completions",code="200"} 1`,
		"golamini_generated_tokens_total 3", "golamini_queue_length 0", "golamini_batch_size", "golamini_decode_step_seconds_bucket{le=\"+Inf\"}",
		"golamini_time_to_first_token_seconds_count 1"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %q:\n%s", want, b)
		}
	}
}

func TestCompletionsGreedyEqualsInfer(t *testing.T) {
	d := loadDemo(t)
	_, ts := newTestServer(t, nil)
	prompt := "How do I add data to Lamini?"
	want := d.tok.DecodeTransformers(d.alone(t, d.tok.Encode(prompt), 30), true)
	resp, b := post(t, ts.URL+"/v1/completions", fmt.Sprintf(`{"model":"demo","prompt":%q,"max_tokens":30,"temperature":0}`, prompt))
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	var cr completionResponse
	if err := json.Unmarshal(b, &cr); err != nil {
		t.Fatal(err)
	}
	if cr.Object != "text_completion" || len(cr.Choices) != 1 || cr.Choices[0].Text != want {
		t.Errorf("got %s, want text %q", b, want)
	}
	if cr.Usage == nil || cr.Usage.PromptTokens != len(d.tok.Encode(prompt)) || cr.Usage.TotalTokens != cr.Usage.PromptTokens+cr.Usage.CompletionTokens {
		t.Errorf("usage %+v", cr.Usage)
	}
	// Streamed: the pieces join to the plain decode, then finish and [DONE].
	resp2, err := http.Post(ts.URL+"/v1/completions", "application/json", strings.NewReader(fmt.Sprintf(`{"model":"demo","prompt":%q,"max_tokens":30,"temperature":0,"stream":true,"stream_options":{"include_usage":true}}`, prompt)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp2.Body.Close()
	if ct := resp2.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("content type %q", ct)
	}
	chunks, done := sseEvents(t, resp2.Body)
	if !done {
		t.Fatal("no [DONE]")
	}
	var text string
	var finish any
	for _, c := range chunks[:len(chunks)-1] {
		ch := c["choices"].([]any)[0].(map[string]any)
		text += ch["text"].(string)
		finish = ch["finish_reason"]
	}
	plain := d.tok.Decode(d.alone(t, d.tok.Encode(prompt), 30), true)
	if text != plain || finish == nil {
		t.Errorf("streamed %q (finish %v), want %q", text, finish, plain)
	}
	if u := chunks[len(chunks)-1]["usage"]; u == nil {
		t.Errorf("last chunk has no usage: %v", chunks[len(chunks)-1])
	}
}

func TestChat(t *testing.T) {
	d := loadDemo(t)
	_, ts := newTestServer(t, nil)
	prompt, _ := plainTemplate{}.Render([]ChatMessage{{Role: "user", Content: "What is golamini?"}}, true)
	alone := d.alone(t, d.tok.Encode(prompt), 20)
	want, _ := cutStop(d.tok.DecodeTransformers(alone, true), plainTemplate{}.Stop())
	wantStream, _ := cutStop(d.tok.Decode(alone, true), plainTemplate{}.Stop())
	body := `{"model":"demo","messages":[{"role":"user","content":[{"type":"text","text":"What is golamini?"}]}],"max_tokens":20,"temperature":0,"logprobs":true,"top_logprobs":2}`
	resp, b := post(t, ts.URL+"/v1/chat/completions", body)
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	var cr chatResponse
	json.Unmarshal(b, &cr)
	c := cr.Choices[0]
	if cr.Object != "chat.completion" || c.Message.Role != "assistant" || *c.Message.Content != want {
		t.Errorf("got %s, want %q", b, want)
	}
	if c.Logprobs == nil || len(c.Logprobs.Content) != cr.Usage.CompletionTokens || len(c.Logprobs.Content[0].TopLogprobs) != 2 {
		t.Errorf("logprobs %+v", c.Logprobs)
	} else if lp := c.Logprobs.Content[0]; lp.TopLogprobs[0].Logprob < lp.Logprob || lp.Logprob > 0 {
		t.Errorf("greedy token's logprob %v vs best %v", lp.Logprob, lp.TopLogprobs[0].Logprob)
	}
	resp2, err := http.Post(ts.URL+"/v1/chat/completions", "application/json", strings.NewReader(strings.Replace(body, `"temperature":0`, `"temperature":0,"stream":true`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp2.Body.Close()
	chunks, done := sseEvents(t, resp2.Body)
	if !done || len(chunks) < 2 {
		t.Fatalf("%d chunks, done %v", len(chunks), done)
	}
	first := chunks[0]["choices"].([]any)[0].(map[string]any)["delta"].(map[string]any)
	if first["role"] != "assistant" || chunks[0]["object"] != "chat.completion.chunk" {
		t.Errorf("first chunk %v", chunks[0])
	}
	var text string
	for _, ch := range chunks[1:] {
		delta := ch["choices"].([]any)[0].(map[string]any)["delta"].(map[string]any)
		if s, ok := delta["content"].(string); ok {
			text += s
		}
	}
	if text != wantStream {
		t.Errorf("streamed %q, want %q", text, wantStream)
	}
}

func TestNoChatTemplate(t *testing.T) {
	_, ts := newTestServer(t, func(o *Options) { o.ChatTemplate = nil })
	resp, b := post(t, ts.URL+"/v1/chat/completions", `{"model":"demo","messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != 400 || !strings.Contains(string(b), "no chat template") {
		t.Errorf("%d %s", resp.StatusCode, b)
	}
}

func TestBadRequests(t *testing.T) {
	_, ts := newTestServer(t, nil)
	long := strings.Repeat("word ", 400)
	cases := []struct {
		path, body string
		status     int
		param      string
	}{
		{"/v1/completions", `{"model":"demo","prompt":"x"`, 400, ""},
		{"/v1/completions", ``, 400, ""},
		{"/v1/completions", `[1,2]`, 400, ""},
		{"/v1/completions", `{"model":"demo","prompt":"x","max_tokens":"ten"}`, 400, "max_tokens"},
		{"/v1/completions", `{"model":"demo","prompt":"x","temperature":"hot"}`, 400, "temperature"},
		{"/v1/completions", `{"model":"demo","prompt":"x","stream":"yes"}`, 400, "stream"},
		{"/v1/completions", `{"model":"demo","prompt":{"a":1}}`, 400, "prompt"},
		{"/v1/completions", `{"model":"demo"}`, 400, "prompt"},
		{"/v1/completions", `{"model":"demo","prompt":[5000000]}`, 400, "prompt"},
		{"/v1/completions", fmt.Sprintf(`{"model":"demo","prompt":%q}`, long), 400, "prompt"},
		{"/v1/completions", `{"model":"demo","prompt":"x","max_tokens":0}`, 400, "max_tokens"},
		{"/v1/completions", `{"model":"demo","prompt":"x","max_tokens":-3}`, 400, "max_tokens"},
		{"/v1/completions", `{"model":"demo","prompt":"x","max_tokens":100000}`, 400, "max_tokens"},
		{"/v1/completions", `{"model":"gpt-4","prompt":"x"}`, 400, "model"},
		{"/v1/completions", `{"prompt":"x"}`, 400, "model"},
		{"/v1/completions", `{"model":"demo","prompt":"x","n":0}`, 400, "n"},
		{"/v1/completions", `{"model":"demo","prompt":"x","n":99}`, 400, "n"},
		{"/v1/completions", `{"model":"demo","prompt":"x","temperature":3}`, 400, "temperature"},
		{"/v1/completions", `{"model":"demo","prompt":"x","top_p":0}`, 400, "top_p"},
		{"/v1/completions", `{"model":"demo","prompt":"x","stop":["a","b","c","d","e"]}`, 400, "stop"},
		{"/v1/completions", `{"model":"demo","prompt":"x","stop":5}`, 400, "stop"},
		{"/v1/completions", `{"model":"demo","prompt":"x","logprobs":9}`, 400, "logprobs"},
		{"/v1/completions", `{"model":"demo","prompt":"x","echo":true}`, 400, "echo"},
		{"/v1/completions", `{"model":"demo","prompt":"x","presence_penalty":1}`, 400, "presence_penalty"},
		{"/v1/completions", `{"model":"demo","prompt":"x","stream_options":{"include_usage":true}}`, 400, "stream_options"},
		{"/v1/completions", `{"model":"demo","prompt":"x","response_format":{"type":"xml"}}`, 400, "response_format.type"},
		{"/v1/completions", `{"model":"demo","prompt":"x","response_format":{"type":"json_schema"}}`, 400, "response_format.json_schema"},
		{"/v1/completions", `{"model":"demo","prompt":"x","response_format":{"type":"json_schema","json_schema":{"name":"a","schema":{"type":"object","properties":{"a":{"anyOf":[]}}}}}}`, 400, "response_format.json_schema.schema"},
		{"/v1/completions", `{"model":"demo","prompt":"x","max_tokens":3,"response_format":{"type":"json_schema","json_schema":{"name":"a","schema":{"type":"object","properties":{"answer":{"type":"string"}},"required":["answer"]}}}}`, 400, "max_tokens"},
		{"/v1/chat/completions", `{"model":"demo","messages":[]}`, 400, "messages"},
		{"/v1/chat/completions", `{"model":"demo","messages":"hi"}`, 400, "messages"},
		{"/v1/chat/completions", `{"model":"demo","messages":[{"role":"wizard","content":"hi"}]}`, 400, "messages[0].role"},
		{"/v1/chat/completions", `{"model":"demo","messages":[{"role":"user","content":[{"type":"image_url"}]}]}`, 400, "messages[0].content[0]"},
		{"/v1/chat/completions", `{"model":"demo","messages":[{"role":"user","content":"hi"}],"top_logprobs":3}`, 400, "top_logprobs"},
		{"/v1/chat/completions", `{"model":"demo","messages":[{"role":"user","content":"hi"}],"max_completion_tokens":0}`, 400, "max_completion_tokens"},
		{"/v1/chat/completions", `{"model":"demo","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function"}]}`, 400, "tools"},
		{"/v1/chat/completions", fmt.Sprintf(`{"model":"demo","messages":[{"role":"user","content":%q}]}`, long), 400, "messages"},
		{"/v1/embeddings", `{}`, 404, ""},
		{"/nope", `{}`, 404, ""},
	}
	for _, c := range cases {
		resp, b := post(t, ts.URL+c.path, c.body)
		if resp.StatusCode != c.status {
			t.Errorf("%s %s: status %d, want %d: %s", c.path, c.body, resp.StatusCode, c.status, b)
			continue
		}
		var e struct {
			Error *struct {
				Message string  `json:"message"`
				Type    string  `json:"type"`
				Param   *string `json:"param"`
				Code    *string `json:"code"`
			} `json:"error"`
		}
		if err := json.Unmarshal(b, &e); err != nil || e.Error == nil || e.Error.Message == "" || e.Error.Type == "" {
			t.Errorf("%s %s: body %s is not an OpenAI error", c.path, c.body, b)
			continue
		}
		got := ""
		if e.Error.Param != nil {
			got = *e.Error.Param
		}
		if got != c.param {
			t.Errorf("%s %s: param %q, want %q (%s)", c.path, c.body, got, c.param, e.Error.Message)
		}
	}
	resp, err := http.Get(ts.URL + "/v1/completions")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "POST" {
		t.Errorf("GET /v1/completions: %d", resp.StatusCode)
	}
}

func TestAPIKey(t *testing.T) {
	_, ts := newTestServer(t, func(o *Options) { o.APIKey = "sekret" })
	body := `{"model":"demo","prompt":"hi","max_tokens":2}`
	for _, c := range []struct {
		hdr  []string
		want int
	}{{nil, 401}, {[]string{"Authorization", "Bearer wrong"}, 401}, {[]string{"Authorization", "sekret"}, 401}, {[]string{"Authorization", "Bearer sekret"}, 200}} {
		resp, b := post(t, ts.URL+"/v1/completions", body, c.hdr...)
		if resp.StatusCode != c.want {
			t.Errorf("%v: %d, want %d: %s", c.hdr, resp.StatusCode, c.want, b)
		}
		if c.want == 401 && !strings.Contains(string(b), "invalid_api_key") {
			t.Errorf("401 body %s", b)
		}
	}
	if resp, err := http.Get(ts.URL + "/health"); err != nil || resp.StatusCode != 200 {
		t.Errorf("/health needs no key: %v %v", resp, err)
	}
}

// streamOpen starts a streamed completion and returns its response after
// the first chunk arrived (the request is then running).
func streamOpen(t *testing.T, url string, maxTokens int) (*http.Response, *bufio.Reader) {
	t.Helper()
	body := fmt.Sprintf(`{"model":"demo","prompt":"Once upon a time","max_tokens":%d,"temperature":1,"seed":1,"stream":true,"ignore_eos":true}`, maxTokens)
	resp, err := http.Post(url+"/v1/completions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(resp.Body)
	if _, err := br.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	return resp, br
}

func metricValue(t *testing.T, url, name string) float64 {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestTooManyWaiting(t *testing.T) {
	_, ts := newTestServer(t, func(o *Options) { o.MaxBatch, o.MaxConcurrent = 1, 1 })
	r1, _ := streamOpen(t, ts.URL, 200) // running: fills the batch of 1
	defer r1.Body.Close()
	done := make(chan int)
	go func() {
		resp, _ := post(t, ts.URL+"/v1/completions", `{"model":"demo","prompt":"x","max_tokens":2}`)
		done <- resp.StatusCode
	}()
	waitFor(t, "a waiting request", func() bool { return metricValue(t, ts.URL, "golamini_queue_length") == 1 })
	resp, b := post(t, ts.URL+"/v1/completions", `{"model":"demo","prompt":"y","max_tokens":2}`)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(b), "rate_limit_exceeded") {
		t.Errorf("third request: %d %v %s", resp.StatusCode, resp.Header, b)
	}
	r1.Body.Close() // the client goes away: its row is freed and the waiting one runs
	if st := <-done; st != 200 {
		t.Errorf("queued request: %d", st)
	}
}

func TestDisconnectFreesRow(t *testing.T) {
	_, ts := newTestServer(t, nil)
	resp, _ := streamOpen(t, ts.URL, 200)
	waitFor(t, "the batch to run", func() bool { return metricValue(t, ts.URL, "golamini_batch_size") == 1 })
	resp.Body.Close()
	waitFor(t, "the row to be freed", func() bool {
		return metricValue(t, ts.URL, "golamini_batch_size") == 0 && metricValue(t, ts.URL, "golamini_requests_cancelled_total") == 1
	})
	if n := metricValue(t, ts.URL, "golamini_generated_tokens_total"); n >= 200 {
		t.Errorf("generated %v tokens: not cancelled", n)
	}
}

// Test16StreamingClients: 16 concurrent streamed greedy completions each
// equal generation alone.
func Test16StreamingClients(t *testing.T) {
	d := loadDemo(t)
	_, ts := newTestServer(t, func(o *Options) { o.PrefillChunk = 4 })
	var wg sync.WaitGroup
	for i, p := range testPrompts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			want := d.tok.Decode(d.alone(t, d.tok.Encode(p), 20+i), true)
			body := fmt.Sprintf(`{"model":"demo","prompt":%q,"max_tokens":%d,"temperature":0,"stream":true}`, p, 20+i)
			resp, err := http.Post(ts.URL+"/v1/completions", "application/json", strings.NewReader(body))
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			chunks, done := sseEvents(t, resp.Body)
			var text string
			for _, c := range chunks {
				text += c["choices"].([]any)[0].(map[string]any)["text"].(string)
			}
			if !done || text != want {
				t.Errorf("client %d: %q (done %v), want %q", i, text, done, want)
			}
		}()
	}
	wg.Wait()
	// The requests were decoded together: some steps ran many rows.
	if one, all := metricValue(t, ts.URL, `golamini_decode_step_rows_bucket{le="1"}`), metricValue(t, ts.URL, "golamini_decode_step_rows_count"); one == all {
		t.Errorf("every one of %v decoding steps ran a single row", all)
	}
	if many := metricValue(t, ts.URL, "golamini_decode_step_rows_count") - metricValue(t, ts.URL, `golamini_decode_step_rows_bucket{le="8"}`); many == 0 {
		t.Error("no decoding step ran more than 8 of the 16 requests")
	}
}

func TestNAndSeeds(t *testing.T) {
	_, ts := newTestServer(t, nil)
	var a, b completionResponse
	_, body := post(t, ts.URL+"/v1/completions", `{"model":"demo","prompt":"Lamini is","max_tokens":12,"temperature":1,"seed":7,"n":3,"logprobs":2}`)
	json.Unmarshal(body, &a)
	_, body = post(t, ts.URL+"/v1/completions", `{"model":"demo","prompt":"Lamini is","max_tokens":12,"temperature":1,"seed":7}`)
	json.Unmarshal(body, &b)
	if len(a.Choices) != 3 || len(b.Choices) != 1 {
		t.Fatalf("choices %d, %d", len(a.Choices), len(b.Choices))
	}
	if a.Choices[0].Text != b.Choices[0].Text {
		t.Errorf("choice 0 of n=3 %q differs from n=1 %q with the same seed", a.Choices[0].Text, b.Choices[0].Text)
	}
	if a.Choices[0].Text == a.Choices[1].Text && a.Choices[1].Text == a.Choices[2].Text {
		t.Errorf("three samples equal: %q", a.Choices[0].Text)
	}
	lp := a.Choices[1].Logprobs
	if lp == nil || len(lp.Tokens) == 0 || len(lp.Tokens) != len(lp.TokenLogprobs) || len(lp.TopLogprobs[0]) == 0 || len(lp.TopLogprobs[0]) > 2 {
		t.Errorf("logprobs %+v", lp)
	}
	if a.Usage.CompletionTokens < 3 {
		t.Errorf("usage %+v", a.Usage)
	}
	// Stop strings cut the text.
	var c completionResponse
	_, body = post(t, ts.URL+"/v1/completions", `{"model":"demo","prompt":"Lamini is","max_tokens":12,"temperature":0}`)
	json.Unmarshal(body, &c)
	full := c.Choices[0].Text
	if len(full) > 4 {
		stop := full[2:4]
		_, body = post(t, ts.URL+"/v1/completions", fmt.Sprintf(`{"model":"demo","prompt":"Lamini is","max_tokens":12,"temperature":0,"stop":%q}`, stop))
		json.Unmarshal(body, &c)
		if c.Choices[0].Text != full[:strings.Index(full, stop)] || *c.Choices[0].FinishReason != "stop" {
			t.Errorf("stop %q: %q (%s), full %q", stop, c.Choices[0].Text, *c.Choices[0].FinishReason, full)
		}
	}
}

var jsonSchemas = []string{
	`{"type":"object","properties":{"answer":{"type":"string"},"score":{"type":"integer"}},"required":["answer","score"],"additionalProperties":false}`,
	`{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"},"tags":{"type":"array","items":{"type":"string"},"maxItems":3}},"required":["name","age","tags"],"additionalProperties":false}`,
	`{"type":"object","properties":{"ok":{"type":"boolean"},"color":{"enum":["red","green","blue"]},"pt":{"type":"object","properties":{"x":{"type":"number"},"y":{"type":"number"}},"required":["x","y"],"additionalProperties":false}},"required":["ok","color","pt"],"additionalProperties":false}`,
	`{"type":"array","items":{"type":"integer"},"minItems":1,"maxItems":5}`,
}

func TestJSONResponses(t *testing.T) {
	_, ts := newTestServer(t, nil)
	for i, sch := range jsonSchemas {
		g, err := constrain.CompileSchema([]byte(sch))
		if err != nil {
			t.Fatal(err)
		}
		for seed := range 3 {
			for _, stream := range []bool{false, true} {
				body := fmt.Sprintf(`{"model":"demo","messages":[{"role":"user","content":"Give JSON"}],"max_tokens":%d,"temperature":%d,"seed":%d,"stream":%v,"response_format":{"type":"json_schema","json_schema":{"name":"s","schema":%s}}}`,
					g.Start().MinClose()+seed*15, seed, seed, stream, sch)
				resp, b := post(t, ts.URL+"/v1/chat/completions", body)
				if resp.StatusCode != 200 {
					t.Fatalf("%d %s", resp.StatusCode, b)
				}
				var text string
				if stream {
					chunks, _ := sseEvents(t, strings.NewReader(string(b)))
					for _, c := range chunks {
						if s, ok := c["choices"].([]any)[0].(map[string]any)["delta"].(map[string]any)["content"].(string); ok {
							text += s
						}
					}
				} else {
					var cr chatResponse
					json.Unmarshal(b, &cr)
					text = *cr.Choices[0].Message.Content
				}
				var v any
				if err := json.Unmarshal([]byte(text), &v); err != nil {
					t.Errorf("schema %d seed %d: %q does not parse: %v", i, seed, text, err)
				}
				if st, ok := g.Start().FeedBytes([]byte(text)); !ok || !st.Accepting() {
					t.Errorf("schema %d seed %d: %q does not fit the schema", i, seed, text)
				}
			}
		}
	}
	resp, b := post(t, ts.URL+"/v1/completions", `{"model":"demo","prompt":"JSON:","max_tokens":30,"seed":3,"response_format":{"type":"json_object"}}`)
	var cr completionResponse
	json.Unmarshal(b, &cr)
	var obj map[string]any
	if resp.StatusCode != 200 || json.Unmarshal([]byte(cr.Choices[0].Text), &obj) != nil {
		t.Errorf("json_object: %d %s", resp.StatusCode, b)
	}
}

func TestGracefulShutdown(t *testing.T) {
	d := loadDemo(t)
	o := DefaultOptions()
	o.ModelID, o.ShutdownGrace = "demo", 300*time.Millisecond
	s := New(d.do, d.tok, d.m.Config, o)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.ServeListener(ctx, ln) }()
	url := "http://" + ln.Addr().String()
	resp, br := streamOpen(t, url, 250) // runs longer than the grace period
	defer resp.Body.Close()
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Serve did not return after the grace period")
	}
	io.Copy(io.Discard, br) // the stream ended
	if _, err := http.Get(url + "/health"); err == nil {
		t.Error("still accepting after shutdown")
	}
}

// rssBytes reads this process's resident set size.
func rssBytes(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Skipf("no /proc/self/statm: %v", err)
	}
	f := strings.Fields(string(b))
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

// TestSoakMemory: thousands of requests (plain, streamed, JSON, cancelled)
// over loopback do not grow resident memory past warm-up.
func TestSoakMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("soak test")
	}
	_, ts := newTestServer(t, nil)
	bodies := []string{
		`{"model":"demo","prompt":"Lamini is","max_tokens":6,"temperature":1}`,
		`{"model":"demo","prompt":"Hello","max_tokens":6,"temperature":0,"stream":true}`,
		`{"model":"demo","prompt":"JSON","max_tokens":24,"temperature":1,"response_format":{"type":"json_object"}}`,
		`{"model":"demo","messages":[{"role":"user","content":"hi"}],"max_tokens":6,"logprobs":true,"top_logprobs":3}`,
	}
	round := func(n int) {
		var wg sync.WaitGroup
		sem := make(chan struct{}, 8)
		for i := range n {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				path := "/v1/completions"
				if strings.Contains(bodies[i%4], "messages") {
					path = "/v1/chat/completions"
				}
				resp, _ := post(t, ts.URL+path, bodies[i%4])
				if resp.StatusCode != 200 {
					t.Errorf("request %d: %d", i, resp.StatusCode)
				}
			}()
		}
		wg.Wait()
	}
	round(400) // warm-up: allocator pools, caches, schema indexes
	before := rssBytes(t)
	start := time.Now()
	round(2000)
	after := rssBytes(t)
	t.Logf("soak: 2000 requests in %v; RSS %.1f MiB → %.1f MiB (%+.2f MiB)", time.Since(start).Round(time.Millisecond),
		float64(before)/(1<<20), float64(after)/(1<<20), float64(after-before)/(1<<20))
	if after-before > 32<<20 {
		t.Errorf("RSS grew by %.1f MiB over 2000 requests", float64(after-before)/(1<<20))
	}
}
