package gguf

import (
	"fmt"
	"math"
)

// ValueType is the type of a metadata value (gguf_type).
type ValueType uint32

// The metadata value types, with GGUF's numbering.
const (
	ValueUint8   ValueType = 0
	ValueInt8    ValueType = 1
	ValueUint16  ValueType = 2
	ValueInt16   ValueType = 3
	ValueUint32  ValueType = 4
	ValueInt32   ValueType = 5
	ValueFloat32 ValueType = 6
	ValueBool    ValueType = 7
	ValueString  ValueType = 8
	ValueArray   ValueType = 9
	ValueUint64  ValueType = 10
	ValueInt64   ValueType = 11
	ValueFloat64 ValueType = 12
)

var valueTypeNames = [...]string{"UINT8", "INT8", "UINT16", "INT16", "UINT32", "INT32", "FLOAT32", "BOOL", "STRING", "ARRAY", "UINT64", "INT64", "FLOAT64"}

// String returns GGUF's name of the type ("UINT32").
func (t ValueType) String() string {
	if int(t) < len(valueTypeNames) {
		return valueTypeNames[t]
	}
	return fmt.Sprintf("ValueType(%d)", uint32(t))
}

func (t ValueType) valid() bool { return int(t) < len(valueTypeNames) }

// fixedSize returns the encoded size of a scalar of type t, 0 for strings
// and arrays.
func (t ValueType) fixedSize() int {
	switch t {
	case ValueUint8, ValueInt8, ValueBool:
		return 1
	case ValueUint16, ValueInt16:
		return 2
	case ValueUint32, ValueInt32, ValueFloat32:
		return 4
	case ValueUint64, ValueInt64, ValueFloat64:
		return 8
	}
	return 0
}

// Value is one metadata value. Scalars hold their value in the Go type
// that matches Type (uint8, int8, uint16, int16, uint32, int32, float32,
// bool, string, uint64, int64, float64); an array holds a slice of that Go
// type for its element type ([]string, []int32, ...), or []Value for an
// array of arrays.
type Value struct {
	Type ValueType
	// Elem is the element type of an array.
	Elem ValueType
	v    any
}

// NewValue returns the Value for a Go value: one of the scalar types above
// or a slice of one of them (an array), or []Value (an array of arrays,
// whose elements must all be arrays).
func NewValue(v any) (Value, error) {
	switch x := v.(type) {
	case uint8:
		return Value{Type: ValueUint8, v: x}, nil
	case int8:
		return Value{Type: ValueInt8, v: x}, nil
	case uint16:
		return Value{Type: ValueUint16, v: x}, nil
	case int16:
		return Value{Type: ValueInt16, v: x}, nil
	case uint32:
		return Value{Type: ValueUint32, v: x}, nil
	case int32:
		return Value{Type: ValueInt32, v: x}, nil
	case float32:
		return Value{Type: ValueFloat32, v: x}, nil
	case bool:
		return Value{Type: ValueBool, v: x}, nil
	case string:
		return Value{Type: ValueString, v: x}, nil
	case uint64:
		return Value{Type: ValueUint64, v: x}, nil
	case int64:
		return Value{Type: ValueInt64, v: x}, nil
	case float64:
		return Value{Type: ValueFloat64, v: x}, nil
	case []uint8:
		return Value{Type: ValueArray, Elem: ValueUint8, v: x}, nil
	case []int8:
		return Value{Type: ValueArray, Elem: ValueInt8, v: x}, nil
	case []uint16:
		return Value{Type: ValueArray, Elem: ValueUint16, v: x}, nil
	case []int16:
		return Value{Type: ValueArray, Elem: ValueInt16, v: x}, nil
	case []uint32:
		return Value{Type: ValueArray, Elem: ValueUint32, v: x}, nil
	case []int32:
		return Value{Type: ValueArray, Elem: ValueInt32, v: x}, nil
	case []float32:
		return Value{Type: ValueArray, Elem: ValueFloat32, v: x}, nil
	case []bool:
		return Value{Type: ValueArray, Elem: ValueBool, v: x}, nil
	case []string:
		return Value{Type: ValueArray, Elem: ValueString, v: x}, nil
	case []uint64:
		return Value{Type: ValueArray, Elem: ValueUint64, v: x}, nil
	case []int64:
		return Value{Type: ValueArray, Elem: ValueInt64, v: x}, nil
	case []float64:
		return Value{Type: ValueArray, Elem: ValueFloat64, v: x}, nil
	case []Value:
		for i, e := range x {
			if e.Type != ValueArray {
				return Value{}, fmt.Errorf("gguf: array of arrays: element %d is a %v", i, e.Type)
			}
		}
		return Value{Type: ValueArray, Elem: ValueArray, v: x}, nil
	}
	return Value{}, fmt.Errorf("gguf: no GGUF value type for Go type %T", v)
}

// Any returns the Go value (see Value).
func (v Value) Any() any { return v.v }

// Len returns the number of elements of an array, 0 for a scalar.
func (v Value) Len() int {
	switch x := v.v.(type) {
	case []uint8:
		return len(x)
	case []int8:
		return len(x)
	case []uint16:
		return len(x)
	case []int16:
		return len(x)
	case []uint32:
		return len(x)
	case []int32:
		return len(x)
	case []float32:
		return len(x)
	case []bool:
		return len(x)
	case []string:
		return len(x)
	case []uint64:
		return len(x)
	case []int64:
		return len(x)
	case []float64:
		return len(x)
	case []Value:
		return len(x)
	}
	return 0
}

// String returns a string value, and whether v is one.
func (v Value) String() (string, bool) {
	s, ok := v.v.(string)
	return s, ok
}

// Bool returns a bool value, and whether v is one.
func (v Value) Bool() (bool, bool) {
	b, ok := v.v.(bool)
	return b, ok
}

// Int returns an integer value of any integer type as int64, and whether v
// is an integer that fits.
func (v Value) Int() (int64, bool) {
	switch x := v.v.(type) {
	case uint8:
		return int64(x), true
	case int8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case int16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case int32:
		return int64(x), true
	case uint64:
		if x > math.MaxInt64 {
			return 0, false
		}
		return int64(x), true
	case int64:
		return x, true
	}
	return 0, false
}

// Float returns a float value (FLOAT32 or FLOAT64) as float64, and whether
// v is one.
func (v Value) Float() (float64, bool) {
	switch x := v.v.(type) {
	case float32:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

// Strings returns an array of strings, and whether v is one.
func (v Value) Strings() ([]string, bool) {
	s, ok := v.v.([]string)
	return s, ok
}

// Ints returns an array of any integer type as int64s, and whether v is one
// (a UINT64 element above the int64 range makes it fail).
func (v Value) Ints() ([]int64, bool) {
	if v.Type != ValueArray {
		return nil, false
	}
	n := v.Len()
	out := make([]int64, n)
	switch x := v.v.(type) {
	case []uint8:
		for i, e := range x {
			out[i] = int64(e)
		}
	case []int8:
		for i, e := range x {
			out[i] = int64(e)
		}
	case []uint16:
		for i, e := range x {
			out[i] = int64(e)
		}
	case []int16:
		for i, e := range x {
			out[i] = int64(e)
		}
	case []uint32:
		for i, e := range x {
			out[i] = int64(e)
		}
	case []int32:
		for i, e := range x {
			out[i] = int64(e)
		}
	case []uint64:
		for i, e := range x {
			if e > math.MaxInt64 {
				return nil, false
			}
			out[i] = int64(e)
		}
	case []int64:
		copy(out, x)
	default:
		return nil, false
	}
	return out, true
}

// Floats returns an array of FLOAT32 or FLOAT64 as float64s, and whether v
// is one.
func (v Value) Floats() ([]float64, bool) {
	switch x := v.v.(type) {
	case []float32:
		out := make([]float64, len(x))
		for i, e := range x {
			out[i] = float64(e)
		}
		return out, true
	case []float64:
		return append([]float64(nil), x...), true
	}
	return nil, false
}

// typeName describes v's type for error messages ("ARRAY[STRING]").
func (v Value) typeName() string {
	if v.Type == ValueArray {
		return fmt.Sprintf("ARRAY[%v]", v.Elem)
	}
	return v.Type.String()
}
