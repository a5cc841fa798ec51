package torch

// typedef void *tensor;
// void atg_gelu(tensor *out, tensor self, char *approximate_ptr, int approximate_len);
import "C"

import (
	"fmt"
	"unsafe"

	lib "github.com/sugarme/gotch/libtch"
)

// gotch's lib.AtgGelu copies its string argument with C.CString on every
// call and never frees it: a small leak per GELU (one per layer and token).
// Gelu calls atg_gelu itself with C strings made once for the process.
var geluModes = map[string]*C.char{"none": C.CString("none"), "tanh": C.CString("tanh")}

// Gelu applies GELU; approximate is "none" (exact erf) or "tanh".
func (s *Scope) Gelu(x *Tensor, approximate string) *Tensor {
	if !s.ok("gelu", x) {
		return nil
	}
	mode, ok := geluModes[approximate]
	if !ok {
		s.Fail(fmt.Errorf("torch: gelu: approximation %q is not \"none\" or \"tanh\"", approximate))
		return nil
	}
	var out lib.Ctensor
	C.atg_gelu((*C.tensor)(unsafe.Pointer(&out)), C.tensor(unsafe.Pointer(x.c)), mode, C.int(len(approximate)))
	return s.wrap("gelu", out)
}
