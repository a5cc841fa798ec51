package checkpoint

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// plainHooks decode data only: any global, call or persistent id is an
// error.
var plainHooks = pickleHooks{
	global: func(m, n string) (any, error) { return nil, fmt.Errorf("global %s.%s", m, n) },
	call:   func(any, pyTuple) (any, error) { return nil, errors.New("call") },
	build:  func(any, any) error { return errors.New("build") },
	persistentLoad: func(any) (any, error) {
		return nil, errors.New("persistent id")
	},
}

// normalize builds the JSON form the reference script's normalize() gives.
func normalize(v any) any {
	switch v := v.(type) {
	case pyNone:
		return nil
	case bool, string:
		return v
	case int64:
		return map[string]any{"int": strconv.FormatInt(v, 10)}
	case float64:
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], math.Float64bits(v))
		return map[string]any{"float_bits": hex.EncodeToString(b[:])}
	case pyBytes:
		return map[string]any{"bytes": hex.EncodeToString(v)}
	case pyTuple:
		return map[string]any{"tuple": normalizeAll(v)}
	case *pyList:
		return normalizeAll(v.items)
	case *pySet:
		return map[string]any{"set": normalizeAll(v.items)}
	case *pyDict:
		pairs := []any{}
		for i, k := range v.keys {
			pairs = append(pairs, []any{normalize(k), normalize(v.vals[i])})
		}
		return map[string]any{"dict": pairs}
	}
	return fmt.Sprintf("unexpected %T", v)
}

func normalizeAll(v []any) []any {
	out := []any{}
	for _, x := range v {
		out = append(out, normalize(x))
	}
	return out
}

// TestPickleProtocols decodes pickles of plain data that Python wrote with
// every protocol, 0 to 5.
func TestPickleProtocols(t *testing.T) {
	cases := loadExpected(t).Pickles
	protos := map[int]int{}
	for i, c := range cases {
		data, err := hex.DecodeString(c.Hex)
		if err != nil {
			t.Fatal(err)
		}
		v, err := unpickle(data, plainHooks)
		if err != nil {
			t.Errorf("case %d (protocol %d): %v", i, c.Protocol, err)
			continue
		}
		got, _ := json.Marshal(normalize(v))
		var g, w any
		json.Unmarshal(got, &g)
		json.Unmarshal(c.Value, &w)
		if !reflect.DeepEqual(g, w) {
			t.Errorf("case %d (protocol %d):\ngot  %s\nwant %s", i, c.Protocol, got, c.Value)
		}
		protos[c.Protocol]++
	}
	if len(protos) != 6 {
		t.Errorf("protocols covered: %v, want 0-5", protos)
	}
}

func TestPickleMalformed(t *testing.T) {
	cases := map[string]string{
		"no STOP":        "\x80\x02K\x01",
		"empty stack":    ".",
		"underflow":      "\x80\x02\x85.",
		"no MARK":        "\x80\x02e.",
		"memo key":       "\x80\x02h\x05.",
		"truncated":      "\x80\x02X\xff\x00\x00\x00ab",
		"unsupported":    "\x80\x02i__main__\nX\n.",
		"protocol":       "\x80\x09.",
		"64 bits":        "\x80\x02\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01.",
		"append to":      "\x80\x02K\x01K\x02a.",
		"UTF-8":          "\x80\x02X\x01\x00\x00\x00\xff.",
		"dict key":       "\x80\x02}]K\x01s.",
		"global os.path": "\x80\x02cos\npath\n.",
		"odd number":     "\x80\x02}(K\x01u.",
		"bad integer":    "I12x\n.",
	}
	for want, pkl := range cases {
		_, err := unpickle([]byte(pkl), plainHooks)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want it to mention %q", pkl, err, want)
		}
	}
	// Python semantics of a few opcodes.
	for pkl, want := range map[string]any{
		"\x80\x02\x8a\x02\xff\x7f.":                             int64(0x7fff),
		"\x80\x02\x8a\x01\xff.":                                 int64(-1),
		"\x80\x02\x8a\x00.":                                     int64(0),
		"\x80\x02\x8a\x09\xff\xff\xff\xff\xff\xff\xff\xff\xff.": int64(-1),
		"\x80\x02J\xfe\xff\xff\xff.":                            int64(-2),
		"\x80\x02M\xff\xff.":                                    int64(65535),
		"I01\n.":                                                true,
		"F-1.5\n.":                                              -1.5,
		"\x80\x02K\x01K\x020.":                                  int64(1), // POP
		"\x80\x02K\x01(K\x02K\x031.":                            int64(1), // POP_MARK
		"\x80\x02K\x072\x86.":                                   "tuple",
	} {
		v, err := unpickle([]byte(pkl), plainHooks)
		if err != nil {
			t.Errorf("%q: %v", pkl, err)
			continue
		}
		if s, ok := want.(string); ok && s == "tuple" {
			if tup, ok := v.(pyTuple); !ok || len(tup) != 2 || tup[0] != int64(7) || tup[1] != int64(7) {
				t.Errorf("%q = %#v", pkl, v)
			}
			continue
		}
		if v != want {
			t.Errorf("%q = %#v, want %#v", pkl, v, want)
		}
	}
}

// A list that contains itself decodes without looping.
func TestPickleCycle(t *testing.T) {
	v, err := unpickle([]byte("\x80\x02]q\x00h\x00a."), plainHooks)
	if err != nil {
		t.Fatal(err)
	}
	l := v.(*pyList)
	if len(l.items) != 1 || l.items[0] != l {
		t.Errorf("cycle not preserved")
	}
	if _, err := parseTorchPickle([]byte("\x80\x02}q\x00X\x01\x00\x00\x00ah\x00s.")); err == nil || !strings.Contains(err.Error(), `"a" is a dict`) {
		t.Errorf("self-containing state dict: %v", err)
	}
}
