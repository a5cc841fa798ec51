package data

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// genReader produces JSON lines on the fly: rows lines of about lineSize
// bytes (the bulk in an ignored "pad" key), plus, after row longAt, one
// line with a pad of longSize bytes. Nothing is held but one line.
type genReader struct {
	rows, lineSize   int
	longAt, longSize int
	row              int
	emittedLong      bool
	pad              []byte   // shared run of 'x', never copied per line
	pending          [][]byte // segments of the current line
	bytes            int64
}

func (g *genReader) Read(p []byte) (int, error) {
	for len(g.pending) == 0 {
		switch {
		case g.row == g.longAt && !g.emittedLong:
			g.emittedLong = true
			g.setLine("long", g.longSize)
		case g.row < g.rows:
			g.setLine(strconv.Itoa(g.row), g.lineSize)
			g.row++
		default:
			return 0, io.EOF
		}
	}
	n := copy(p, g.pending[0])
	g.pending[0] = g.pending[0][n:]
	if len(g.pending[0]) == 0 {
		g.pending = g.pending[1:]
	}
	g.bytes += int64(n)
	return n, nil
}

func (g *genReader) setLine(id string, pad int) {
	if len(g.pad) < pad {
		g.pad = bytes.Repeat([]byte("x"), max(pad, g.lineSize, g.longSize))
	}
	g.pending = [][]byte{
		[]byte(`{"input": "question ` + id + `", "output": "answer", "pad": "`),
		g.pad[:pad],
		[]byte("\"}\r\n"),
	}
}

// TestScanJSONLinesBoundedMemory streams far more JSON than the heap may
// hold (40 MB with -short, 200 MB otherwise, including one 8 MB line) and
// checks the Go heap stays bounded by the longest line, not the stream
// (the test's own 8 MB pad buffer is part of the heap it measures).
func TestScanJSONLinesBoundedMemory(t *testing.T) {
	rows := 1250
	if testing.Short() {
		rows = 250
	}
	g := &genReader{rows: rows, lineSize: 160 << 10, longAt: rows / 2, longSize: 8 << 20}
	runtime.GC()
	var ms runtime.MemStats
	peak := uint64(0)
	n := 0
	st, err := ScanJSONLines(context.Background(), g, "generated", "", "", func(ex Example) error {
		n++
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapInuse)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.Rows != rows+1 || n != rows+1 {
		t.Fatalf("rows %d, callbacks %d, want %d", st.Rows, n, rows+1)
	}
	t.Logf("streamed %d MB in %d rows; peak heap in use %.1f MB", g.bytes>>20, st.Rows, float64(peak)/(1<<20))
	if limit := uint64(64 << 20); peak > limit {
		t.Fatalf("peak heap %d MB for a %d MB stream: the reader holds more than a line", peak>>20, g.bytes>>20)
	}
}

// TestReadJSONLinesLargeFileRSS writes a ~200 MB JSON-lines file and reads
// it with ReadJSONLines, checking the process's peak resident memory grows
// by far less than the file. Skipped with -short.
func TestReadJSONLinesLargeFileRSS(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 200 MB file; run without -short")
	}
	path := filepath.Join(t.TempDir(), "big.jsonl")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	g := &genReader{rows: 1250, lineSize: 160 << 10, longAt: -1}
	w := bufio.NewWriter(f)
	if _, err := io.Copy(w, g); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Skipf("cannot reset the peak RSS counter: %v", err)
	}
	base := procStatusKB(t, "VmRSS")
	ex, st, err := ReadJSONLines(path, "", "")
	if err != nil {
		t.Fatal(err)
	}
	peak := procStatusKB(t, "VmHWM")
	if len(ex) != 1250 || st.Rows != 1250 || ex[1249].Input != "question 1249" {
		t.Fatalf("read %d examples, stats %+v", len(ex), st)
	}
	grow := (peak - base) / 1024
	t.Logf("file %d MB; RSS %d MB before, peak %d MB while reading (+%d MB)", g.bytes>>20, base/1024, peak/1024, grow)
	if grow > 64 {
		t.Fatalf("peak RSS grew by %d MB reading a %d MB file", grow, g.bytes>>20)
	}
}

func procStatusKB(t *testing.T, field string) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			v, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
	t.Skipf("no %s in /proc/self/status", field)
	return 0
}

// TestScanCSVStreams checks the CSV reader also streams, with a quoted
// 4 MB field spanning many lines.
func TestScanCSVStreams(t *testing.T) {
	big := strings.Repeat("line\r\n", 700000) // 4.2 MB, 700000 line breaks
	content := "input,output\r\n\"" + big + "\",tail\r\nnext,row\r\n"
	var got []Example
	st, err := ScanCSV(context.Background(), strings.NewReader(content), "big.csv", "", "", func(ex Example) error {
		got = append(got, ex)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.Rows != 2 || got[0].Input != big || got[1].Input != "next" {
		t.Fatalf("stats %+v", st)
	}
	// The error line after the big field is counted physically.
	_, err = ScanCSV(context.Background(), strings.NewReader(content+"a,b,c\r\n"), "big.csv", "", "", func(Example) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "big.csv line 700004:") {
		t.Fatalf("error %v, want line 700004", err)
	}
}
