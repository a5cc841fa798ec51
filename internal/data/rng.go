package data

import "math/bits"

// This file holds a Go implementation of the random-number path behind
// numpy's np.random.default_rng(seed).permutation(n), which HF datasets'
// train_test_split uses: SeedSequence turns the seed into 256 bits of state,
// PCG64 (XSL-RR 128/64) produces 64-bit words, and Generator.shuffle runs a
// Fisher-Yates pass whose bounded draws use masked rejection sampling
// (numpy's random_interval) on 32-bit halves of those words.

// SeedSequence constants (numpy/random/bit_generator.pyx).
const (
	ssPoolSize = 4
	ssInitA    = 0x43b0d7e5
	ssMultA    = 0x931e8875
	ssInitB    = 0x8b51f9dd
	ssMultB    = 0x58f38ded
	ssMixL     = 0xca01f9dd
	ssMixR     = 0x4973f715
	ssXShift   = 16
)

// PCG64's 128-bit LCG multiplier, high and low words.
const (
	pcgMultHi = 2549297995355413924
	pcgMultLo = 4865540595714422341
)

// entropyWords turns non-negative integers into the uint32 words numpy's
// SeedSequence mixes: each value is split into 32-bit words, lowest first
// (zero is one word, 0), and the values' words are concatenated, as for
// default_rng([v0, v1, ...]).
func entropyWords(values ...uint64) []uint32 {
	var words []uint32
	for _, v := range values {
		if v == 0 {
			words = append(words, 0)
			continue
		}
		for v > 0 {
			words = append(words, uint32(v))
			v >>= 32
		}
	}
	return words
}

// seedSequence is numpy's SeedSequence with the default pool size of four
// words and no spawn key.
type seedSequence struct {
	pool [ssPoolSize]uint32
}

// hasher carries the multiplier that numpy's hashmix updates as it goes.
type hasher struct{ c uint32 }

func (h *hasher) hashmix(v uint32) uint32 {
	v ^= h.c
	h.c *= ssMultA
	v *= h.c
	v ^= v >> ssXShift
	return v
}

func ssMix(x, y uint32) uint32 {
	r := ssMixL*x - ssMixR*y
	r ^= r >> ssXShift
	return r
}

// newSeedSequence mixes the entropy words into the pool.
func newSeedSequence(entropy []uint32) seedSequence {
	var s seedSequence
	h := hasher{c: ssInitA}
	for i := range s.pool {
		var w uint32
		if i < len(entropy) {
			w = entropy[i]
		}
		s.pool[i] = h.hashmix(w)
	}
	for src := range s.pool {
		for dst := range s.pool {
			if src != dst {
				s.pool[dst] = ssMix(s.pool[dst], h.hashmix(s.pool[src]))
			}
		}
	}
	for src := ssPoolSize; src < len(entropy); src++ {
		for dst := range s.pool {
			s.pool[dst] = ssMix(s.pool[dst], h.hashmix(entropy[src]))
		}
	}
	return s
}

// state32 returns n words of seeding state (SeedSequence.generate_state(n, uint32)).
func (s seedSequence) state32(n int) []uint32 {
	out := make([]uint32, n)
	c := uint32(ssInitB)
	for i := range out {
		v := s.pool[i%ssPoolSize]
		v ^= c
		c *= ssMultB
		v *= c
		v ^= v >> ssXShift
		out[i] = v
	}
	return out
}

// state64 returns n 64-bit words (generate_state(n, uint64)): pairs of 32-bit
// words read little-endian.
func (s seedSequence) state64(n int) []uint64 {
	w := s.state32(2 * n)
	out := make([]uint64, n)
	for i := range out {
		out[i] = uint64(w[2*i]) | uint64(w[2*i+1])<<32
	}
	return out
}

// pcg64 is numpy's PCG64 bit generator (128-bit LCG, XSL-RR output), with
// the buffered 32-bit draw numpy uses (low half first, then high half).
type pcg64 struct {
	hi, lo       uint64 // state
	incHi, incLo uint64 // increment (odd)
	hasU32       bool
	u32          uint32
}

// newPCG64 seeds a generator as numpy's PCG64(SeedSequence(entropy)) does.
func newPCG64(entropy ...uint64) *pcg64 {
	st := newSeedSequence(entropyWords(entropy...)).state64(4)
	p := &pcg64{}
	p.seed(st[0], st[1], st[2], st[3])
	return p
}

// seed implements pcg_setseq_128_srandom_r with initstate = sHi:sLo and
// initseq = qHi:qLo.
func (p *pcg64) seed(sHi, sLo, qHi, qLo uint64) {
	p.hi, p.lo = 0, 0
	p.incHi = qHi<<1 | qLo>>63
	p.incLo = qLo<<1 | 1
	p.step()
	var c uint64
	p.lo, c = bits.Add64(p.lo, sLo, 0)
	p.hi, _ = bits.Add64(p.hi, sHi, c)
	p.step()
	p.hasU32, p.u32 = false, 0
}

// step advances the LCG: state = state*mult + inc (mod 2^128).
func (p *pcg64) step() {
	hi, lo := bits.Mul64(p.lo, pcgMultLo)
	hi += p.hi*pcgMultLo + p.lo*pcgMultHi
	var c uint64
	p.lo, c = bits.Add64(lo, p.incLo, 0)
	p.hi, _ = bits.Add64(hi, p.incHi, c)
}

// next64 advances and returns the XSL-RR output of the new state.
func (p *pcg64) next64() uint64 {
	p.step()
	return bits.RotateLeft64(p.hi^p.lo, -int(p.hi>>58))
}

// next32 returns half of a 64-bit draw, keeping the other half for the next call.
func (p *pcg64) next32() uint32 {
	if p.hasU32 {
		p.hasU32 = false
		return p.u32
	}
	v := p.next64()
	p.hasU32, p.u32 = true, uint32(v>>32)
	return uint32(v)
}

// interval returns a uniform integer in [0, max] by masked rejection
// sampling, drawing 32-bit words while max fits in 32 bits (numpy's
// random_interval).
func (p *pcg64) interval(max uint64) uint64 {
	if max == 0 {
		return 0
	}
	mask := max
	mask |= mask >> 1
	mask |= mask >> 2
	mask |= mask >> 4
	mask |= mask >> 8
	mask |= mask >> 16
	mask |= mask >> 32
	if max <= 0xffffffff {
		for {
			if v := uint64(p.next32()) & mask; v <= max {
				return v
			}
		}
	}
	for {
		if v := p.next64() & mask; v <= max {
			return v
		}
	}
}

// shuffle permutes xs in place as numpy's Generator.shuffle does for a 1-D
// array: for i from len-1 down to 1, swap xs[i] with xs[interval(i)].
func (p *pcg64) shuffle(xs []int) {
	for i := len(xs) - 1; i >= 1; i-- {
		j := p.interval(uint64(i))
		xs[i], xs[j] = xs[j], xs[i]
	}
}

// Permutation returns a random permutation of 0..n-1 equal to numpy's
// np.random.default_rng(entropy).permutation(n) (numpy ≥ 1.17, whose
// Generator stream this reproduces). With one value it is
// default_rng(seed); with several, default_rng([v0, v1, ...]). A negative
// n gives an empty permutation.
func Permutation(n int, entropy ...uint64) []int {
	if n < 0 {
		n = 0
	}
	xs := make([]int, n)
	for i := range xs {
		xs[i] = i
	}
	if len(entropy) == 0 {
		entropy = []uint64{0}
	}
	newPCG64(entropy...).shuffle(xs)
	return xs
}
