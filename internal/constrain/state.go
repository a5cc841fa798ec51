package constrain

import (
	"strconv"
	"strings"
)

// Frames of the automaton's stack: the value being written and the
// containers around it.
type fkind uint8

const (
	fValue  fkind = iota // before a value's first byte
	fObject              // inside an object
	fArray               // inside an array
	fString              // inside a string
	fNumber              // inside a number
	fLit                 // inside one of a set of literal texts
	fDone                // the document is complete
)

// Object phases.
const (
	oKeyOrClose uint8 = iota // after '{'
	oKey                     // after ','
	oKeyIn                   // a key is being written (child frame)
	oColon                   // after the key
	oValue                   // a value is being written (child frame)
	oAfter                   // after a value
)

// Array phases.
const (
	aItemOrClose uint8 = iota // after '['
	aItem                     // after ','
	aValue                    // an item is being written (child frame)
	aAfter                    // after an item
)

// String phases.
const (
	sBody uint8 = iota
	sEscape
	sHex  // aux hex digits still to come
	sUTF8 // aux continuation bytes still to come; lo..hi the next one's range
)

// Number phases.
const (
	nSign     uint8 = iota // after '-'
	nZero                  // after a leading 0
	nInt                   // in the integer digits
	nDot                   // after '.'
	nFrac                  // in the fraction digits
	nExp                   // after 'e'
	nExpSign               // after the exponent's sign
	nExpDigit              // in the exponent digits
)

// Limits that keep generated scalars usable: at most maxDigits digits in an
// integer part or fraction (exact in a float64), at most 3 in an exponent,
// and at most maxWS whitespace bytes in a row.
const (
	maxDigits = 15
	maxWS     = 10
)

// frame is one level of the stack. Frames are immutable: a transition makes
// new frames for what changes and shares the rest.
type frame struct {
	parent *frame
	kind   fkind
	node   *node
	phase  uint8
	ws     uint8 // whitespace bytes in a row
	depth  uint8 // objects and arrays around and including this one
	aux    uint8
	lo, hi byte  // sUTF8: range of the next byte
	idx    int32 // object: next property that may come; number: digits in the current part
	prop   int32 // object: property being written
	count  int32 // array: items done
	// fLit
	lits  []string
	cands []int32 // indices into lits still possible
	tails []int32 // per lits index: bytes the parent needs after it (keys)
	pos   int32
}

var doneFrame = &frame{kind: fDone}

// anyLits are the literals a value of any type may be.
var anyLits = []string{"true", "false", "null"}

// State is a point in the output: the automaton's stack. The zero State is
// not valid; start from Grammar.Start.
type State struct{ top *frame }

// Start is the state before the first byte.
func (g *Grammar) Start() State {
	return State{top: &frame{kind: fValue, node: g.root}}
}

// Done reports whether the document is complete and nothing may follow.
func (s State) Done() bool { return s.top == doneFrame }

// Accepting reports whether the output so far is a complete document (it
// may still continue, as a top-level number may take more digits).
func (s State) Accepting() bool {
	t := s.top
	if t == doneFrame {
		return true
	}
	if t.parent != nil {
		return false
	}
	switch t.kind {
	case fNumber:
		return numberComplete(t.phase)
	case fLit:
		for _, c := range t.cands {
			if int(t.pos) == len(t.lits[c]) {
				return true
			}
		}
	}
	return false
}

// FeedBytes feeds b byte by byte; ok is false if some byte cannot follow.
func (s State) FeedBytes(b []byte) (State, bool) {
	for _, c := range b {
		var ok bool
		if s, ok = s.Feed(c); !ok {
			return s, false
		}
	}
	return s, true
}

// Feed advances by one byte; ok is false if c cannot follow.
func (s State) Feed(c byte) (State, bool) {
	t := feed(s.top, c)
	if t == nil {
		return s, false
	}
	return State{top: t}, true
}

func isWS(c byte) bool { return c == ' ' || c == '\n' || c == '\t' || c == '\r' }

// with returns a copy of f changed by fn.
func with(f *frame, fn func(*frame)) *frame {
	n := *f
	fn(&n)
	return &n
}

// wsStep accepts one more whitespace byte in f, within maxWS.
func wsStep(f *frame) *frame {
	if f.ws >= maxWS {
		return nil
	}
	return with(f, func(n *frame) { n.ws++ })
}

// childDone is the parent's frame after its child value (or key) ended;
// res is the literal matched when the child was a key.
func childDone(parent *frame, res int32) *frame {
	if parent == nil {
		return doneFrame
	}
	switch parent.kind {
	case fObject:
		if parent.phase == oKeyIn {
			return with(parent, func(n *frame) {
				n.phase, n.ws = oColon, 0
				if !parent.node.free {
					n.prop, n.idx = res, res+1
				}
			})
		}
		return with(parent, func(n *frame) { n.phase, n.ws = oAfter, 0 })
	case fArray:
		return with(parent, func(n *frame) { n.phase, n.ws, n.count = aAfter, 0, parent.count+1 })
	}
	return nil
}

func feed(f *frame, c byte) *frame {
	switch f.kind {
	case fValue:
		return feedValue(f, c)
	case fObject:
		return feedObject(f, c)
	case fArray:
		return feedArray(f, c)
	case fString:
		return feedString(f, c)
	case fNumber:
		return feedNumber(f, c)
	case fLit:
		return feedLit(f, c)
	}
	return nil
}

// feedValue starts a value of f.node with c (whitespace first where a
// container allows it).
func feedValue(f *frame, c byte) *frame {
	if isWS(c) {
		if f.parent == nil {
			return nil
		}
		return wsStep(f)
	}
	n := f.node
	k := n.kind
	if k == kAny {
		switch {
		case c == '{':
			return openObject(f, &node{kind: kObject, free: true, minLen: 2})
		case c == '[':
			return openArray(f, &node{kind: kArray, items: anyNode, maxItems: -1, minLen: 2})
		case c == '"':
			k = kString
		case c == '-' || (c >= '0' && c <= '9'):
			k = kNumber
		default:
			return startLit(f.parent, f.depth, nil, anyLits, c)
		}
	}
	switch k {
	case kObject:
		if c != '{' {
			return nil
		}
		return openObject(f, n)
	case kArray:
		if c != '[' {
			return nil
		}
		return openArray(f, n)
	case kString:
		if c != '"' {
			return nil
		}
		return &frame{parent: f.parent, kind: fString, depth: f.depth}
	case kNumber, kInteger:
		nf := &frame{parent: f.parent, kind: fNumber, depth: f.depth, aux: b2u(k == kInteger)}
		switch {
		case c == '-':
			nf.phase = nSign
		case c == '0':
			nf.phase = nZero
		case c >= '1' && c <= '9':
			nf.phase, nf.idx = nInt, 1
		default:
			return nil
		}
		return nf
	case kLiteral:
		return startLit(f.parent, f.depth, n, n.lits, c)
	}
	return nil
}

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

func openObject(f *frame, n *node) *frame {
	if n.free && int(f.depth) >= MaxDepth {
		return nil
	}
	return &frame{parent: f.parent, kind: fObject, node: n, phase: oKeyOrClose, depth: f.depth + 1}
}

func openArray(f *frame, n *node) *frame {
	if int(f.depth) >= MaxDepth {
		return nil
	}
	return &frame{parent: f.parent, kind: fArray, node: n, phase: aItemOrClose, depth: f.depth + 1}
}

// startLit begins matching one of lits with its first byte c.
func startLit(parent *frame, depth uint8, n *node, lits []string, c byte) *frame {
	all := make([]int32, len(lits))
	for i := range lits {
		all[i] = int32(i)
	}
	return feedLit(&frame{parent: parent, kind: fLit, node: n, depth: depth, lits: lits, cands: all}, c)
}

func feedLit(f *frame, c byte) *frame {
	var next []int32
	var complete int32 = -1
	for _, i := range f.cands {
		l := f.lits[i]
		switch {
		case int(f.pos) < len(l) && l[f.pos] == c:
			next = append(next, i)
		case int(f.pos) == len(l) && complete < 0:
			complete = i
		}
	}
	if len(next) == 0 {
		if complete < 0 {
			return nil
		}
		// A literal that is complete ends here; c belongs to the parent.
		p := childDone(f.parent, complete)
		if p == nil || p == doneFrame {
			return nil
		}
		return feed(p, c)
	}
	pos := f.pos + 1
	// End eagerly when every remaining literal is complete.
	allDone := true
	for _, i := range next {
		if int(pos) != len(f.lits[i]) {
			allDone = false
			break
		}
	}
	if allDone {
		return childDone(f.parent, next[0])
	}
	return &frame{parent: f.parent, kind: fLit, node: f.node, depth: f.depth, lits: f.lits, cands: next, tails: f.tails, pos: pos}
}

// keyCandidates lists the properties that may come next: from idx up to the
// first required one (the ones between are optional and may be skipped).
func keyCandidates(n *node, idx int32) (lo, hi int32) {
	lo, hi = idx, idx
	for hi < int32(len(n.props)) {
		hi++
		if n.props[hi-1].required {
			break
		}
	}
	return lo, hi
}

// startKey begins a key of object frame f (in phase oKeyOrClose or oKey).
func startKey(f *frame, c byte) *frame {
	n := f.node
	parent := with(f, func(x *frame) { x.phase, x.ws = oKeyIn, 0 })
	if n.free {
		if c != '"' {
			return nil
		}
		return &frame{parent: parent, kind: fString, depth: f.depth}
	}
	lo, hi := keyCandidates(n, f.idx)
	if lo == hi {
		return nil
	}
	lits := make([]string, len(n.props))
	tails := make([]int32, len(n.props))
	cands := make([]int32, 0, hi-lo)
	for i := lo; i < hi; i++ {
		p := n.props[i]
		lits[i] = p.key
		tails[i] = int32(1 + p.node.minLen + n.reqAfter[i+1] + 1) // :v …}
		cands = append(cands, i)
	}
	return feedLit(&frame{parent: parent, kind: fLit, node: n, depth: f.depth, lits: lits, cands: cands, tails: tails}, c)
}

func feedObject(f *frame, c byte) *frame {
	n := f.node
	switch f.phase {
	case oKeyOrClose:
		if isWS(c) {
			return wsStep(f)
		}
		if c == '}' {
			if !n.free && n.reqAfter[0] > 0 {
				return nil
			}
			return childDone(f.parent, -1)
		}
		return startKey(f, c)
	case oKey:
		if isWS(c) {
			return wsStep(f)
		}
		return startKey(f, c)
	case oColon:
		if isWS(c) {
			return wsStep(f)
		}
		if c != ':' {
			return nil
		}
		vn := anyNode
		if !n.free {
			vn = n.props[f.prop].node
		}
		parent := with(f, func(x *frame) { x.phase, x.ws = oValue, 0 })
		return &frame{parent: parent, kind: fValue, node: vn, depth: f.depth}
	case oAfter:
		if isWS(c) {
			return wsStep(f)
		}
		switch c {
		case ',':
			if !n.free && f.idx >= int32(len(n.props)) {
				return nil
			}
			return with(f, func(x *frame) { x.phase, x.ws = oKey, 0 })
		case '}':
			if !n.free && n.reqAfter[f.idx] > 0 {
				return nil
			}
			return childDone(f.parent, -1)
		}
	}
	return nil
}

func feedArray(f *frame, c byte) *frame {
	n := f.node
	switch f.phase {
	case aItemOrClose, aItem:
		if isWS(c) {
			return wsStep(f)
		}
		if c == ']' && f.phase == aItemOrClose && n.minItems == 0 {
			return childDone(f.parent, -1)
		}
		if f.phase == aItemOrClose && n.maxItems == 0 {
			return nil
		}
		parent := with(f, func(x *frame) { x.phase, x.ws = aValue, 0 })
		return feedValue(&frame{parent: parent, kind: fValue, node: n.items, depth: f.depth}, c)
	case aAfter:
		if isWS(c) {
			return wsStep(f)
		}
		switch c {
		case ',':
			if n.maxItems >= 0 && int(f.count) >= n.maxItems {
				return nil
			}
			return with(f, func(x *frame) { x.phase, x.ws = aItem, 0 })
		case ']':
			if int(f.count) < n.minItems {
				return nil
			}
			return childDone(f.parent, -1)
		}
	}
	return nil
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func feedString(f *frame, c byte) *frame {
	switch f.phase {
	case sBody:
		switch {
		case c == '"':
			return childDone(f.parent, -1)
		case c == '\\':
			return with(f, func(x *frame) { x.phase = sEscape })
		case c < 0x20 || c == 0x7f:
			return nil // control characters must be escaped; DEL is kept out too
		case c < 0x80:
			return f
		}
		// UTF-8 lead byte: how many continuation bytes, and the range of the
		// first one (no overlong forms, no surrogates, nothing past U+10FFFF).
		lo, hi, need := byte(0x80), byte(0xBF), uint8(0)
		switch {
		case c >= 0xC2 && c <= 0xDF:
			need = 1
		case c == 0xE0:
			lo, need = 0xA0, 2
		case c == 0xED:
			hi, need = 0x9F, 2
		case c >= 0xE1 && c <= 0xEF:
			need = 2
		case c == 0xF0:
			lo, need = 0x90, 3
		case c >= 0xF1 && c <= 0xF3:
			need = 3
		case c == 0xF4:
			hi, need = 0x8F, 3
		default:
			return nil
		}
		return with(f, func(x *frame) { x.phase, x.aux, x.lo, x.hi = sUTF8, need, lo, hi })
	case sEscape:
		switch c {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			return with(f, func(x *frame) { x.phase = sBody })
		case 'u':
			return with(f, func(x *frame) { x.phase, x.aux = sHex, 4 })
		}
	case sHex:
		if !isHex(c) {
			return nil
		}
		if f.aux == 4 && (c == 'd' || c == 'D') {
			return nil // no surrogate halves: a lone one is not valid text
		}
		if f.aux == 1 {
			return with(f, func(x *frame) { x.phase, x.aux = sBody, 0 })
		}
		return with(f, func(x *frame) { x.aux-- })
	case sUTF8:
		if c < f.lo || c > f.hi {
			return nil
		}
		if f.aux == 1 {
			return with(f, func(x *frame) { x.phase, x.aux = sBody, 0 })
		}
		return with(f, func(x *frame) { x.aux--; x.lo, x.hi = 0x80, 0xBF })
	}
	return nil
}

func numberComplete(p uint8) bool {
	return p == nZero || p == nInt || p == nFrac || p == nExpDigit
}

func feedNumber(f *frame, c byte) *frame {
	digit := c >= '0' && c <= '9'
	integer := f.aux == 1
	step := func(phase uint8, digits int32) *frame {
		return with(f, func(x *frame) { x.phase, x.idx = phase, digits })
	}
	switch f.phase {
	case nSign:
		switch {
		case c == '0':
			return step(nZero, 1)
		case digit:
			return step(nInt, 1)
		}
		return nil
	case nZero, nInt:
		if digit && f.phase == nInt {
			if f.idx >= maxDigits {
				return nil
			}
			return step(nInt, f.idx+1)
		}
		if !integer && c == '.' {
			return step(nDot, 0)
		}
		if !integer && (c == 'e' || c == 'E') {
			return step(nExp, 0)
		}
	case nDot, nFrac:
		if digit {
			if f.idx >= maxDigits {
				return nil
			}
			return step(nFrac, f.idx+1)
		}
		if f.phase == nFrac && (c == 'e' || c == 'E') {
			return step(nExp, 0)
		}
		if f.phase == nDot {
			return nil
		}
	case nExp:
		if c == '+' || c == '-' {
			return step(nExpSign, 0)
		}
		if digit {
			return step(nExpDigit, 1)
		}
		return nil
	case nExpSign, nExpDigit:
		if digit {
			if f.idx >= 3 {
				return nil
			}
			return step(nExpDigit, f.idx+1)
		}
		if f.phase == nExpSign {
			return nil
		}
	}
	if !numberComplete(f.phase) {
		return nil
	}
	// The number ended; c belongs to the container.
	p := childDone(f.parent, -1)
	if p == doneFrame {
		return nil // nothing may follow a top-level number
	}
	return feed(p, c)
}

// MinClose is the fewest bytes that complete the document from s.
func (s State) MinClose() int {
	total := 0
	for f := s.top; f != nil && f != doneFrame; f = f.parent {
		total += f.rest()
	}
	return total
}

// rest is the fewest bytes that end this frame, not counting a child frame
// above it.
func (f *frame) rest() int {
	switch f.kind {
	case fValue:
		return f.node.minLen
	case fString:
		switch f.phase {
		case sEscape:
			return 2
		case sHex, sUTF8:
			return int(f.aux) + 1
		}
		return 1
	case fNumber:
		if numberComplete(f.phase) {
			return 0
		}
		return 1
	case fLit:
		best := -1
		for _, i := range f.cands {
			n := len(f.lits[i]) - int(f.pos)
			if f.tails != nil {
				n += int(f.tails[i])
			}
			if best < 0 || n < best {
				best = n
			}
		}
		return best
	case fObject:
		n := f.node
		if n.free {
			switch f.phase {
			case oKey:
				return 5 // "":0}
			case oKeyIn, oColon:
				return 3 // :0}
			}
			return 1
		}
		switch f.phase {
		case oKeyOrClose:
			if n.reqAfter[0] > 0 {
				return n.reqAfter[0] // first entry without a comma, plus '}'
			}
			return 1
		case oKey:
			lo, hi := keyCandidates(n, f.idx)
			best := -1
			for i := lo; i < hi; i++ {
				p := n.props[i]
				c := len(p.key) + 1 + p.node.minLen + n.reqAfter[i+1] + 1
				if best < 0 || c < best {
					best = c
				}
			}
			return best
		case oKeyIn:
			return 0 // in the key literal's tails
		case oColon:
			return 1 + n.props[f.prop].node.minLen + n.reqAfter[f.idx] + 1
		}
		return n.reqAfter[f.idx] + 1
	case fArray:
		n := f.node
		m := n.items.minLen
		cnt := int(f.count)
		switch f.phase {
		case aItemOrClose:
			if n.minItems == 0 {
				return 1
			}
			return n.minItems*m + n.minItems - 1 + 1
		case aItem:
			need := max(1, n.minItems-cnt)
			return need*m + need - 1 + 1
		case aValue:
			return max(0, n.minItems-cnt-1)*(m+1) + 1
		}
		return max(0, n.minItems-cnt)*(m+1) + 1
	}
	return 0
}

// key is a canonical text of the state: equal keys allow the same tokens
// with the same closing costs.
func (s State) key() string {
	var b strings.Builder
	for f := s.top; f != nil; f = f.parent {
		b.WriteByte(byte('a' + f.kind))
		nid := 0
		if f.node != nil {
			nid = f.node.id
			if f.node.free {
				nid = -1 // free containers made on the fly share one key
			}
		}
		for _, v := range []int{nid, int(f.phase), int(f.ws), int(f.depth), int(f.aux), int(f.lo), int(f.hi), int(f.idx), int(f.prop), int(f.count), int(f.pos)} {
			b.WriteString(strconv.Itoa(v))
			b.WriteByte(',')
		}
		if f.kind == fLit {
			b.WriteString(strconv.Itoa(len(f.lits)))
			b.WriteByte(':')
			b.WriteString(f.lits[0])
			for _, c := range f.cands {
				b.WriteString(strconv.Itoa(int(c)))
				b.WriteByte('.')
			}
			if f.tails != nil {
				b.WriteByte('t')
			}
		}
		b.WriteByte('|')
	}
	return b.String()
}
