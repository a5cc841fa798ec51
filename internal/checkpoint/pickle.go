package checkpoint

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file is a restricted pickle machine: it decodes the opcodes of pickle
// protocols 0-5 that describe plain data (ints, floats, strings, bytes,
// tuples, lists, dicts, sets) and delegates every GLOBAL, call (REDUCE,
// NEWOBJ), BUILD and persistent id to hooks. Nothing is ever executed: a
// global the hooks do not allow is an error.

// Values the machine produces, besides string, int64, float64 and bool.
type (
	pyNone   struct{}
	pyBytes  []byte
	pyTuple  []any
	pyList   struct{ items []any }
	pySet    struct{ items []any }
	pyGlobal struct{ module, name string }
	pyDict   struct {
		keys, vals []any
		index      map[any]int
	}
)

// pyBytesKey is the map key of a bytes dict key.
type pyBytesKey string

func newDict() *pyDict { return &pyDict{index: map[any]int{}} }

// set stores d[k] = v, keeping first-insertion order like Python dicts.
func (d *pyDict) set(k, v any) error {
	hk, err := hashKey(k)
	if err != nil {
		return err
	}
	if i, ok := d.index[hk]; ok {
		d.vals[i] = v
		return nil
	}
	d.index[hk] = len(d.keys)
	d.keys = append(d.keys, k)
	d.vals = append(d.vals, v)
	return nil
}

func hashKey(k any) (any, error) {
	switch k := k.(type) {
	case string, int64, bool, pyNone:
		return k, nil
	case float64:
		if k == math.Trunc(k) && math.Abs(k) < 1<<62 {
			return int64(k), nil // Python: 1.0 and 1 are the same key
		}
		return k, nil
	case pyBytes:
		return pyBytesKey(k), nil
	}
	return nil, fmt.Errorf("unsupported dict key of type %s", pyTypeName(k))
}

func (g *pyGlobal) String() string { return g.module + "." + g.name }

// pyTypeName names a value's Python type for error messages (values are
// never printed: they may be cyclic).
func pyTypeName(v any) string {
	switch v := v.(type) {
	case nil:
		return "nothing"
	case pyNone:
		return "None"
	case bool:
		return "bool"
	case int64:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case pyBytes:
		return "bytes"
	case pyTuple:
		return "tuple"
	case *pyList:
		return "list"
	case *pySet:
		return "set"
	case *pyDict:
		return "dict"
	case *pyGlobal:
		return "global " + v.String()
	case *storageRef:
		return "storage"
	case *tensorRef:
		return "tensor"
	}
	return fmt.Sprintf("%T", v)
}

// pickleHooks give meaning to the opcodes that refer to code or to data
// outside the pickle.
type pickleHooks struct {
	// global resolves GLOBAL/STACK_GLOBAL; it returns an error for
	// anything not allowed.
	global func(module, name string) (any, error)
	// call implements REDUCE and NEWOBJ of a resolved global.
	call func(fn any, args pyTuple) (any, error)
	// build implements BUILD (setting state on an object).
	build func(obj, state any) error
	// persistentLoad resolves a BINPERSID id.
	persistentLoad func(pid any) (any, error)
}

// unpickler is the machine's state.
type unpickler struct {
	data  []byte
	pos   int
	stack []any
	marks []int
	memo  map[uint64]any
	hooks pickleHooks
}

// maxPickleStack bounds the value stack so malformed input cannot exhaust
// memory through DUP loops of a huge file.
const maxPickleStack = 1 << 24

// unpickle runs the machine over data and returns the value STOP yields.
func unpickle(data []byte, hooks pickleHooks) (result any, err error) {
	u := &unpickler{data: data, memo: map[uint64]any{}, hooks: hooks}
	for {
		if u.pos >= len(u.data) {
			return nil, errors.New("pickle: unexpected end of data (no STOP opcode; truncated?)")
		}
		at := u.pos
		op := u.data[u.pos]
		u.pos++
		done, err := u.step(op)
		if err != nil {
			return nil, fmt.Errorf("pickle: offset %d, opcode %s: %w", at, opName(op), err)
		}
		if done {
			if len(u.stack) == 0 {
				return nil, errors.New("pickle: STOP with an empty stack")
			}
			return u.stack[len(u.stack)-1], nil
		}
	}
}

func opName(op byte) string {
	if n, ok := opNames[op]; ok {
		return n
	}
	return fmt.Sprintf("0x%02x", op)
}

var opNames = map[byte]string{
	'(': "MARK", '.': "STOP", '0': "POP", '1': "POP_MARK", '2': "DUP", 'F': "FLOAT", 'I': "INT",
	'J': "BININT", 'K': "BININT1", 'L': "LONG", 'M': "BININT2", 'N': "NONE", 'P': "PERSID",
	'Q': "BINPERSID", 'R': "REDUCE", 'S': "STRING", 'T': "BINSTRING", 'U': "SHORT_BINSTRING",
	'V': "UNICODE", 'X': "BINUNICODE", 'a': "APPEND", 'b': "BUILD", 'c': "GLOBAL", 'd': "DICT",
	'}': "EMPTY_DICT", 'e': "APPENDS", 'g': "GET", 'h': "BINGET", 'i': "INST", 'j': "LONG_BINGET",
	'l': "LIST", ']': "EMPTY_LIST", 'o': "OBJ", 'p': "PUT", 'q': "BINPUT", 'r': "LONG_BINPUT",
	's': "SETITEM", 't': "TUPLE", ')': "EMPTY_TUPLE", 'u': "SETITEMS", 'G': "BINFLOAT",
	0x80: "PROTO", 0x81: "NEWOBJ", 0x82: "EXT1", 0x83: "EXT2", 0x84: "EXT4", 0x85: "TUPLE1",
	0x86: "TUPLE2", 0x87: "TUPLE3", 0x88: "NEWTRUE", 0x89: "NEWFALSE", 0x8a: "LONG1", 0x8b: "LONG4",
	'B': "BINBYTES", 'C': "SHORT_BINBYTES", 0x8c: "SHORT_BINUNICODE", 0x8d: "BINUNICODE8",
	0x8e: "BINBYTES8", 0x8f: "EMPTY_SET", 0x90: "ADDITEMS", 0x91: "FROZENSET", 0x92: "NEWOBJ_EX",
	0x93: "STACK_GLOBAL", 0x94: "MEMOIZE", 0x95: "FRAME", 0x96: "BYTEARRAY8", 0x97: "NEXT_BUFFER",
	0x98: "READONLY_BUFFER",
}

func (u *unpickler) take(n uint64) ([]byte, error) {
	if n > uint64(len(u.data)-u.pos) {
		return nil, fmt.Errorf("needs %d bytes, %d left (truncated?)", n, len(u.data)-u.pos)
	}
	b := u.data[u.pos : u.pos+int(n)]
	u.pos += int(n)
	return b, nil
}

func (u *unpickler) line() (string, error) {
	i := bytes.IndexByte(u.data[u.pos:], '\n')
	if i < 0 {
		return "", errors.New("missing end of line (truncated?)")
	}
	s := string(u.data[u.pos : u.pos+i])
	u.pos += i + 1
	return s, nil
}

func (u *unpickler) uint(n int) (uint64, error) {
	b, err := u.take(uint64(n))
	if err != nil {
		return 0, err
	}
	var buf [8]byte
	copy(buf[:], b)
	return binary.LittleEndian.Uint64(buf[:]), nil
}

func (u *unpickler) push(v any) error {
	if len(u.stack) >= maxPickleStack {
		return errors.New("stack too deep")
	}
	u.stack = append(u.stack, v)
	return nil
}

func (u *unpickler) pop() (any, error) {
	if len(u.stack) == 0 || (len(u.marks) > 0 && len(u.stack) == u.marks[len(u.marks)-1]) {
		return nil, errors.New("stack underflow")
	}
	v := u.stack[len(u.stack)-1]
	u.stack = u.stack[:len(u.stack)-1]
	return v, nil
}

func (u *unpickler) top() (any, error) {
	if len(u.stack) == 0 || (len(u.marks) > 0 && len(u.stack) == u.marks[len(u.marks)-1]) {
		return nil, errors.New("stack underflow")
	}
	return u.stack[len(u.stack)-1], nil
}

// popMark pops the values above the most recent MARK.
func (u *unpickler) popMark() ([]any, error) {
	if len(u.marks) == 0 {
		return nil, errors.New("no MARK on the stack")
	}
	k := u.marks[len(u.marks)-1]
	u.marks = u.marks[:len(u.marks)-1]
	items := append([]any(nil), u.stack[k:]...)
	u.stack = u.stack[:k]
	return items, nil
}

func (u *unpickler) popN(n int) ([]any, error) {
	out := make([]any, n)
	for i := n - 1; i >= 0; i-- {
		v, err := u.pop()
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func (u *unpickler) str(n uint64) (string, error) {
	b, err := u.take(n)
	if err != nil {
		return "", err
	}
	if !utf8.Valid(b) {
		return "", errors.New("string is not valid UTF-8")
	}
	return string(b), nil
}

func (u *unpickler) bytesN(n uint64) (pyBytes, error) {
	b, err := u.take(n)
	if err != nil {
		return nil, err
	}
	return append(pyBytes(nil), b...), nil
}

// decodeLong decodes a little-endian two's-complement integer that must fit
// in int64.
func decodeLong(b []byte) (int64, error) {
	if len(b) == 0 {
		return 0, nil
	}
	neg := b[len(b)-1]&0x80 != 0
	if len(b) > 8 {
		fill := byte(0)
		if neg {
			fill = 0xff
		}
		for _, x := range b[8:] {
			if x != fill {
				return 0, errors.New("integer does not fit in 64 bits")
			}
		}
		if (b[7]&0x80 != 0) != neg {
			return 0, errors.New("integer does not fit in 64 bits")
		}
		b = b[:8]
	}
	var buf [8]byte
	if neg {
		buf = [8]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	}
	copy(buf[:], b)
	return int64(binary.LittleEndian.Uint64(buf[:])), nil
}

// memoIndex reads the memo index of a GET or PUT opcode: one byte after the
// short form, four after the long form, a decimal line after the text form.
func (u *unpickler) memoIndex(op, short, long byte) (uint64, error) {
	switch op {
	case short:
		return u.uint(1)
	case long:
		return u.uint(4)
	}
	s, err := u.line()
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(s, 10, 64)
}

func (u *unpickler) memoGet(i uint64) error {
	v, ok := u.memo[i]
	if !ok {
		return fmt.Errorf("memo key %d not found", i)
	}
	return u.push(v)
}

func (u *unpickler) memoPut(i uint64) error {
	v, err := u.top()
	if err != nil {
		return err
	}
	u.memo[i] = v
	return nil
}

func (u *unpickler) call(fn any, args any) error {
	t, ok := args.(pyTuple)
	if !ok {
		return fmt.Errorf("call arguments are a %s, not a tuple", pyTypeName(args))
	}
	v, err := u.hooks.call(fn, t)
	if err != nil {
		return err
	}
	return u.push(v)
}

// step executes one opcode; it returns true at STOP.
func (u *unpickler) step(op byte) (bool, error) {
	switch op {
	case 0x80: // PROTO
		v, err := u.uint(1)
		if err != nil {
			return false, err
		}
		if v > 5 {
			return false, fmt.Errorf("unsupported pickle protocol %d", v)
		}
	case 0x95: // FRAME: the length is advisory
		if _, err := u.uint(8); err != nil {
			return false, err
		}
	case '.':
		return true, nil
	case '(':
		if len(u.marks) >= maxPickleStack {
			return false, errors.New("too many marks")
		}
		u.marks = append(u.marks, len(u.stack))
	case '0':
		if len(u.stack) > 0 && (len(u.marks) == 0 || len(u.stack) > u.marks[len(u.marks)-1]) {
			u.stack = u.stack[:len(u.stack)-1]
		} else if _, err := u.popMark(); err != nil {
			return false, err
		}
	case '1':
		if _, err := u.popMark(); err != nil {
			return false, err
		}
	case '2':
		v, err := u.top()
		if err != nil {
			return false, err
		}
		return false, u.push(v)

	// Constants and numbers.
	case 'N':
		return false, u.push(pyNone{})
	case 0x88:
		return false, u.push(true)
	case 0x89:
		return false, u.push(false)
	case 'K':
		v, err := u.uint(1)
		if err != nil {
			return false, err
		}
		return false, u.push(int64(v))
	case 'M':
		v, err := u.uint(2)
		if err != nil {
			return false, err
		}
		return false, u.push(int64(v))
	case 'J':
		v, err := u.uint(4)
		if err != nil {
			return false, err
		}
		return false, u.push(int64(int32(uint32(v))))
	case 0x8a, 0x8b: // LONG1, LONG4
		var n uint64
		var err error
		if op == 0x8a {
			n, err = u.uint(1)
		} else {
			n, err = u.uint(4)
			if err == nil && int32(uint32(n)) < 0 {
				err = errors.New("negative LONG4 length")
			}
		}
		if err != nil {
			return false, err
		}
		b, err := u.take(n)
		if err != nil {
			return false, err
		}
		v, err := decodeLong(b)
		if err != nil {
			return false, err
		}
		return false, u.push(v)
	case 'I', 'L':
		s, err := u.line()
		if err != nil {
			return false, err
		}
		if op == 'I' && (s == "00" || s == "01") {
			return false, u.push(s == "01")
		}
		s = strings.TrimSuffix(s, "L")
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return false, fmt.Errorf("bad integer %q", s)
		}
		return false, u.push(v)
	case 'G':
		v, err := u.take(8)
		if err != nil {
			return false, err
		}
		return false, u.push(math.Float64frombits(binary.BigEndian.Uint64(v)))
	case 'F':
		s, err := u.line()
		if err != nil {
			return false, err
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return false, fmt.Errorf("bad float %q", s)
		}
		return false, u.push(v)

	// Strings and bytes.
	case 'X', 0x8c, 0x8d, 'T', 'U': // BINUNICODE, SHORT_BINUNICODE, BINUNICODE8, BINSTRING, SHORT_BINSTRING
		width := 4
		switch op {
		case 0x8c, 'U':
			width = 1
		case 0x8d:
			width = 8
		}
		n, err := u.uint(width)
		if err != nil {
			return false, err
		}
		if op == 'T' && int32(uint32(n)) < 0 {
			return false, errors.New("negative BINSTRING length")
		}
		s, err := u.str(n)
		if err != nil {
			return false, err
		}
		return false, u.push(s)
	case 'V': // UNICODE (protocol 0): raw-unicode-escape text
		s, err := u.line()
		if err != nil {
			return false, err
		}
		v, err := decodeRawUnicodeEscape(s)
		if err != nil {
			return false, err
		}
		return false, u.push(v)
	case 'B', 'C', 0x8e, 0x96: // BINBYTES, SHORT_BINBYTES, BINBYTES8, BYTEARRAY8
		width := 8
		switch op {
		case 'B':
			width = 4
		case 'C':
			width = 1
		}
		n, err := u.uint(width)
		if err != nil {
			return false, err
		}
		b, err := u.bytesN(n)
		if err != nil {
			return false, err
		}
		return false, u.push(b)

	// Containers.
	case ')':
		return false, u.push(pyTuple{})
	case 't':
		items, err := u.popMark()
		if err != nil {
			return false, err
		}
		return false, u.push(pyTuple(items))
	case 0x85, 0x86, 0x87:
		items, err := u.popN(int(op - 0x84))
		if err != nil {
			return false, err
		}
		return false, u.push(pyTuple(items))
	case ']':
		return false, u.push(&pyList{})
	case 'l':
		items, err := u.popMark()
		if err != nil {
			return false, err
		}
		return false, u.push(&pyList{items: items})
	case 'a', 'e': // APPEND, APPENDS
		var items []any
		var err error
		if op == 'a' {
			items, err = u.popN(1)
		} else {
			items, err = u.popMark()
		}
		if err != nil {
			return false, err
		}
		t, err := u.top()
		if err != nil {
			return false, err
		}
		l, ok := t.(*pyList)
		if !ok {
			return false, fmt.Errorf("append to a %s", pyTypeName(t))
		}
		l.items = append(l.items, items...)
	case '}':
		return false, u.push(newDict())
	case 'd', 's', 'u': // DICT, SETITEM, SETITEMS
		var items []any
		var err error
		if op == 's' {
			items, err = u.popN(2)
		} else {
			items, err = u.popMark()
		}
		if err != nil {
			return false, err
		}
		if len(items)%2 != 0 {
			return false, fmt.Errorf("odd number of items (%d) for a dict", len(items))
		}
		var d *pyDict
		if op == 'd' {
			d = newDict()
		} else {
			t, err := u.top()
			if err != nil {
				return false, err
			}
			var ok bool
			if d, ok = t.(*pyDict); !ok {
				return false, fmt.Errorf("set item on a %s", pyTypeName(t))
			}
		}
		for i := 0; i < len(items); i += 2 {
			if err := d.set(items[i], items[i+1]); err != nil {
				return false, err
			}
		}
		if op == 'd' {
			return false, u.push(d)
		}
	case 0x8f:
		return false, u.push(&pySet{})
	case 0x90, 0x91: // ADDITEMS, FROZENSET
		items, err := u.popMark()
		if err != nil {
			return false, err
		}
		if op == 0x91 {
			return false, u.push(&pySet{items: items})
		}
		t, err := u.top()
		if err != nil {
			return false, err
		}
		s, ok := t.(*pySet)
		if !ok {
			return false, fmt.Errorf("add items to a %s", pyTypeName(t))
		}
		s.items = append(s.items, items...)

	// Memo.
	case 'q', 'r', 'p': // BINPUT, LONG_BINPUT, PUT
		i, err := u.memoIndex(op, 'q', 'r')
		if err != nil {
			return false, err
		}
		return false, u.memoPut(i)
	case 0x94: // MEMOIZE
		return false, u.memoPut(uint64(len(u.memo)))
	case 'h', 'j', 'g': // BINGET, LONG_BINGET, GET
		i, err := u.memoIndex(op, 'h', 'j')
		if err != nil {
			return false, err
		}
		return false, u.memoGet(i)

	// Code and external references: delegated to the hooks.
	case 'c':
		module, err := u.line()
		if err != nil {
			return false, err
		}
		name, err := u.line()
		if err != nil {
			return false, err
		}
		g, err := u.hooks.global(module, name)
		if err != nil {
			return false, err
		}
		return false, u.push(g)
	case 0x93: // STACK_GLOBAL
		items, err := u.popN(2)
		if err != nil {
			return false, err
		}
		module, ok1 := items[0].(string)
		name, ok2 := items[1].(string)
		if !ok1 || !ok2 {
			return false, errors.New("module and name must be strings")
		}
		g, err := u.hooks.global(module, name)
		if err != nil {
			return false, err
		}
		return false, u.push(g)
	case 'R', 0x81: // REDUCE, NEWOBJ
		items, err := u.popN(2)
		if err != nil {
			return false, err
		}
		return false, u.call(items[0], items[1])
	case 0x92: // NEWOBJ_EX
		items, err := u.popN(3)
		if err != nil {
			return false, err
		}
		if kw, ok := items[2].(*pyDict); !ok || len(kw.keys) != 0 {
			return false, errors.New("keyword arguments are not supported")
		}
		return false, u.call(items[0], items[1])
	case 'b': // BUILD
		state, err := u.pop()
		if err != nil {
			return false, err
		}
		obj, err := u.top()
		if err != nil {
			return false, err
		}
		return false, u.hooks.build(obj, state)
	case 'Q': // BINPERSID
		pid, err := u.pop()
		if err != nil {
			return false, err
		}
		v, err := u.hooks.persistentLoad(pid)
		if err != nil {
			return false, err
		}
		return false, u.push(v)
	default:
		return false, errors.New("unsupported opcode (not used by torch.save)")
	}
	return false, nil
}

// decodeRawUnicodeEscape decodes Python's raw-unicode-escape codec: bytes are
// Latin-1 code points except the escapes \uXXXX and \UXXXXXXXX.
func decodeRawUnicodeEscape(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) && (s[i+1] == 'u' || s[i+1] == 'U') {
			n := 4
			if s[i+1] == 'U' {
				n = 8
			}
			if i+2+n > len(s) {
				return "", errors.New("truncated \\u escape")
			}
			r, err := strconv.ParseUint(s[i+2:i+2+n], 16, 32)
			if err != nil || r > utf8.MaxRune {
				return "", fmt.Errorf("bad escape %q", s[i:i+2+n])
			}
			b.WriteRune(rune(r))
			i += 1 + n
			continue
		}
		b.WriteRune(rune(c))
	}
	return b.String(), nil
}
