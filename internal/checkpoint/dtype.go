package checkpoint

import "fmt"

// DType is the element type of a stored tensor.
type DType int

// The element types a checkpoint may hold. String returns the safetensors
// name of each ("F32", "BOOL", ...).
const (
	// Invalid is the zero DType; no tensor has it.
	Invalid DType = iota
	// F32 is IEEE 754 binary32.
	F32
	// F16 is IEEE 754 binary16 (torch.float16).
	F16
	// BF16 is bfloat16 (the top 16 bits of a binary32).
	BF16
	// F64 is IEEE 754 binary64.
	F64
	// I64 is a signed 64-bit integer.
	I64
	// I32 is a signed 32-bit integer.
	I32
	// I16 is a signed 16-bit integer.
	I16
	// I8 is a signed 8-bit integer.
	I8
	// U8 is an unsigned 8-bit integer.
	U8
	// Bool is one byte per element, 0 or 1.
	Bool
)

var dtypeNames = [...]string{
	Invalid: "INVALID",
	F32:     "F32",
	F16:     "F16",
	BF16:    "BF16",
	F64:     "F64",
	I64:     "I64",
	I32:     "I32",
	I16:     "I16",
	I8:      "I8",
	U8:      "U8",
	Bool:    "BOOL",
}

var dtypeSizes = [...]int64{F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, Bool: 1}

// safetensorsRank orders dtypes the way the Python safetensors library sorts
// tensors in a file: larger rank first (it sorts by its Rust Dtype enum,
// descending, then by name).
var safetensorsRank = [...]int{Bool: 0, U8: 1, I8: 2, I16: 5, F16: 7, BF16: 8, I32: 9, F32: 11, F64: 12, I64: 13}

// String returns the safetensors name of the dtype ("F32", "F16", "BF16",
// "F64", "I64", "I32", "I16", "I8", "U8", "BOOL").
func (d DType) String() string {
	if d.valid() {
		return dtypeNames[d]
	}
	return fmt.Sprintf("DType(%d)", int(d))
}

// Size returns the number of bytes of one element, or 0 for an invalid
// dtype.
func (d DType) Size() int64 {
	if d.valid() {
		return dtypeSizes[d]
	}
	return 0
}

// IsFloat reports whether the dtype is a floating-point type that
// ReadFloat32 converts (F32, F16, BF16, F64).
func (d DType) IsFloat() bool {
	return d == F32 || d == F16 || d == BF16 || d == F64
}

func (d DType) valid() bool { return d > Invalid && int(d) < len(dtypeNames) }

// ParseDType returns the DType with the given safetensors name ("F32",
// "BOOL", ...).
func ParseDType(s string) (DType, error) {
	for d := F32; int(d) < len(dtypeNames); d++ {
		if dtypeNames[d] == s {
			return d, nil
		}
	}
	return Invalid, fmt.Errorf("unsupported dtype %q (supported: F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL)", s)
}
