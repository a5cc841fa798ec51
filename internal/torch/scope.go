package torch

import (
	"fmt"

	lib "github.com/sugarme/gotch/libtch"
)

// Scope owns the tensors its ops create and carries the first error.
//
//	s := torch.NewScope()
//	defer s.Close()
//	y := s.Add(s.Matmul(x, w), b)
//	if err := s.Err(); err != nil { ... }
//	return s.Keep(y), nil
type Scope struct {
	err   error
	owned []*Tensor
}

// NewScope returns an empty scope.
func NewScope() *Scope { return &Scope{} }

// Err returns the first error of any op in the scope.
func (s *Scope) Err() error { return s.err }

// Fail records err (wrapped with context) unless an error is already set.
func (s *Scope) Fail(err error) {
	if s.err == nil && err != nil {
		s.err = err
	}
}

// Failf records a formatted error unless one is already set.
func (s *Scope) Failf(format string, args ...any) { s.Fail(fmt.Errorf(format, args...)) }

// Keep transfers ownership of t to the caller, who must Free it. It returns t
// so that `return s.Keep(y)` reads naturally. Keep(nil) returns nil.
func (s *Scope) Keep(t *Tensor) *Tensor {
	if t != nil && t.scope == s {
		t.scope = nil
	}
	return t
}

// Own makes the scope responsible for freeing t (e.g. a tensor made by
// FromFloat32). It returns t.
func (s *Scope) Own(t *Tensor) *Tensor {
	if t != nil && t.scope == nil {
		t.scope = s
		s.owned = append(s.owned, t)
	}
	return t
}

// Close frees every tensor the scope still owns. The scope stays usable.
func (s *Scope) Close() {
	for _, t := range s.owned {
		if t.scope == s {
			t.Free()
		}
	}
	s.owned = s.owned[:0]
}

// Drop frees an owned intermediate early (long loops keep memory flat this way).
func (s *Scope) Drop(ts ...*Tensor) {
	for _, t := range ts {
		if t != nil && t.scope == s {
			t.Free()
		}
	}
}

// ok reports whether the op may run: no earlier error and all inputs defined.
func (s *Scope) ok(name string, in ...*Tensor) bool {
	if s.err != nil {
		return false
	}
	for i, t := range in {
		if t == nil || t.c == nil {
			s.err = fmt.Errorf("torch: %s: input %d is undefined", name, i)
			return false
		}
	}
	return true
}

// wrap checks libtorch's error after an op and takes ownership of out.
func (s *Scope) wrap(name string, out lib.Ctensor) *Tensor {
	if err := lastErr(); err != nil {
		s.err = fmt.Errorf("torch: %s: %w", name, err)
		if out != nil {
			lib.AtFree(out)
		}
		return nil
	}
	t := &Tensor{c: out, scope: s}
	s.owned = append(s.owned, t)
	return t
}

// inplace checks the error of an in-place op and frees the extra handle it returns.
func (s *Scope) inplace(name string, out lib.Ctensor) {
	if err := lastErr(); err != nil {
		s.err = fmt.Errorf("torch: %s: %w", name, err)
	}
	if out != nil {
		lib.AtFree(out)
	}
}
