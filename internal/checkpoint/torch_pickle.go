package checkpoint

import (
	"errors"
	"fmt"
)

// This file gives torch.save's pickles their meaning on top of the restricted
// pickle machine: the allow-list of globals, the tensor rebuild functions and
// the storage persistent ids.

// storageRef is a storage named by a persistent id
// ('storage', torch.XStorage, key, location, numel).
type storageRef struct {
	key   string
	dtype DType
	numel int64
}

// tensorRef is a tensor view of a storage, as _rebuild_tensor_v2 builds it.
type tensorRef struct {
	storage *storageRef
	offset  int64
	shape   []int64
	stride  []int64
}

// torchStorageTypes maps torch's legacy storage class names to dtypes.
var torchStorageTypes = map[string]DType{
	"FloatStorage":    F32,
	"HalfStorage":     F16,
	"BFloat16Storage": BF16,
	"DoubleStorage":   F64,
	"LongStorage":     I64,
	"IntStorage":      I32,
	"ShortStorage":    I16,
	"CharStorage":     I8,
	"ByteStorage":     U8,
	"BoolStorage":     Bool,
}

// torchGlobals are the other globals a weight file may name.
var torchGlobals = map[string]bool{
	"collections.OrderedDict":                    true,
	"torch._utils._rebuild_tensor":               true,
	"torch._utils._rebuild_tensor_v2":            true,
	"torch._utils._rebuild_parameter":            true,
	"torch._utils._rebuild_parameter_with_state": true,
	"torch._tensor._rebuild_from_type_v2":        true,
	"torch.Tensor":                               true,
	"torch.nn.parameter.Parameter":               true,
}

func torchGlobal(module, name string) (any, error) {
	if module == "torch" {
		if _, ok := torchStorageTypes[name]; ok {
			return &pyGlobal{module, name}, nil
		}
	}
	full := module + "." + name
	if torchGlobals[full] {
		return &pyGlobal{module, name}, nil
	}
	return nil, fmt.Errorf("global %q is not allowed: a weight file may only name torch tensor and storage types (supported storages: Float, Half, BFloat16, Double, Long, Int, Short, Char, Byte, Bool)", full)
}

// torchPickle holds the state of one data.pkl being interpreted.
type torchPickle struct {
	storages map[string]*storageRef
}

func (tp *torchPickle) hooks() pickleHooks {
	return pickleHooks{
		global:         torchGlobal,
		call:           tp.call,
		build:          torchBuild,
		persistentLoad: tp.persistentLoad,
	}
}

func (tp *torchPickle) persistentLoad(pid any) (any, error) {
	t, ok := pid.(pyTuple)
	if !ok || len(t) != 5 {
		return nil, fmt.Errorf("persistent id is a %s, want the 5-tuple ('storage', type, key, location, numel)", pyTypeName(pid))
	}
	if s, _ := t[0].(string); s != "storage" {
		return nil, errors.New("persistent id does not start with 'storage'")
	}
	g, ok := t[1].(*pyGlobal)
	if !ok || g.module != "torch" {
		return nil, fmt.Errorf("persistent id: storage type is a %s", pyTypeName(t[1]))
	}
	dt, ok := torchStorageTypes[g.name]
	if !ok {
		return nil, fmt.Errorf("persistent id: unsupported storage type %s", g)
	}
	key, ok1 := t[2].(string)
	_, ok2 := t[3].(string)
	numel, ok3 := t[4].(int64)
	if !ok1 || !ok2 || !ok3 || numel < 0 {
		return nil, errors.New("persistent id: want (str key, str location, int numel >= 0)")
	}
	if prev, ok := tp.storages[key]; ok {
		if prev.dtype != dt || prev.numel != numel {
			return nil, fmt.Errorf("storage %q is referenced as %v[%d] and as %v[%d]", key, prev.dtype, prev.numel, dt, numel)
		}
		return prev, nil
	}
	s := &storageRef{key: key, dtype: dt, numel: numel}
	tp.storages[key] = s
	return s, nil
}

func (tp *torchPickle) call(fn any, args pyTuple) (any, error) {
	g, ok := fn.(*pyGlobal)
	if !ok {
		return nil, fmt.Errorf("cannot call a %s", pyTypeName(fn))
	}
	switch g.String() {
	case "collections.OrderedDict":
		if len(args) != 0 {
			return nil, errors.New("OrderedDict with arguments is not supported")
		}
		return newDict(), nil
	case "torch._utils._rebuild_tensor_v2":
		if len(args) != 6 && len(args) != 7 {
			return nil, fmt.Errorf("%s takes 6 or 7 arguments, got %d", g, len(args))
		}
		return rebuildTensor(args[:4])
	case "torch._utils._rebuild_tensor":
		if len(args) != 4 {
			return nil, fmt.Errorf("%s takes 4 arguments, got %d", g, len(args))
		}
		return rebuildTensor(args)
	case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state":
		if len(args) != 3 && len(args) != 4 {
			return nil, fmt.Errorf("%s takes 3 or 4 arguments, got %d", g, len(args))
		}
		t, ok := args[0].(*tensorRef)
		if !ok {
			return nil, fmt.Errorf("%s: data is a %s, not a tensor", g, pyTypeName(args[0]))
		}
		return t, nil
	case "torch._tensor._rebuild_from_type_v2":
		if len(args) != 4 {
			return nil, fmt.Errorf("%s takes 4 arguments, got %d", g, len(args))
		}
		f, ok := args[0].(*pyGlobal)
		if !ok || f.String() == g.String() {
			return nil, fmt.Errorf("%s: unsupported function %s", g, pyTypeName(args[0]))
		}
		typ, ok := args[1].(*pyGlobal)
		if !ok || (typ.String() != "torch.Tensor" && typ.String() != "torch.nn.parameter.Parameter") {
			return nil, fmt.Errorf("%s: unsupported tensor type %s", g, pyTypeName(args[1]))
		}
		inner, ok := args[2].(pyTuple)
		if !ok {
			return nil, fmt.Errorf("%s: arguments are a %s", g, pyTypeName(args[2]))
		}
		v, err := tp.call(f, inner)
		if err != nil {
			return nil, err
		}
		if _, ok := v.(*tensorRef); !ok {
			return nil, fmt.Errorf("%s: %s did not build a tensor", g, f)
		}
		return v, nil
	}
	return nil, fmt.Errorf("calling %s is not allowed", g)
}

// torchBuild accepts the state torch.save attaches to state dicts (their
// _metadata) and to tensors, and ignores it: it does not change weights.
func torchBuild(obj, state any) error {
	switch obj.(type) {
	case *pyDict, *tensorRef:
		return nil
	}
	return fmt.Errorf("cannot set state on a %s", pyTypeName(obj))
}

// rebuildTensor checks (storage, storage_offset, size, stride).
func rebuildTensor(args pyTuple) (*tensorRef, error) {
	s, ok := args[0].(*storageRef)
	if !ok {
		return nil, fmt.Errorf("tensor storage is a %s", pyTypeName(args[0]))
	}
	off, ok := args[1].(int64)
	if !ok || off < 0 {
		return nil, errors.New("tensor storage offset is not an int >= 0")
	}
	shape, err := intTuple(args[2], "size")
	if err != nil {
		return nil, err
	}
	stride, err := intTuple(args[3], "stride")
	if err != nil {
		return nil, err
	}
	if len(shape) != len(stride) {
		return nil, fmt.Errorf("tensor size has %d dimensions but stride %d", len(shape), len(stride))
	}
	return &tensorRef{storage: s, offset: off, shape: shape, stride: stride}, nil
}

func intTuple(v any, what string) ([]int64, error) {
	t, ok := v.(pyTuple)
	if !ok {
		return nil, fmt.Errorf("tensor %s is a %s, not a tuple", what, pyTypeName(v))
	}
	out := make([]int64, len(t))
	for i, x := range t {
		n, ok := x.(int64)
		if !ok || n < 0 {
			return nil, fmt.Errorf("tensor %s[%d] is not an int >= 0", what, i)
		}
		out[i] = n
	}
	return out, nil
}

// namedTensor is one entry of a torch state dict.
type namedTensor struct {
	name string
	t    *tensorRef
}

// parseTorchPickle interprets a torch.save data.pkl that holds a state dict
// (a dict of name → tensor) and returns its tensors in file order.
func parseTorchPickle(pkl []byte) ([]namedTensor, error) {
	tp := &torchPickle{storages: map[string]*storageRef{}}
	v, err := unpickle(pkl, tp.hooks())
	if err != nil {
		return nil, err
	}
	d, ok := v.(*pyDict)
	if !ok {
		return nil, fmt.Errorf("the pickled object is a %s, not a state dict", pyTypeName(v))
	}
	out := make([]namedTensor, 0, len(d.keys))
	for i, k := range d.keys {
		name, ok := k.(string)
		if !ok {
			return nil, fmt.Errorf("state dict key %d is a %s, not a str", i, pyTypeName(k))
		}
		t, ok := d.vals[i].(*tensorRef)
		if !ok {
			return nil, fmt.Errorf("state dict entry %q is a %s, not a tensor", name, pyTypeName(d.vals[i]))
		}
		out = append(out, namedTensor{name: name, t: t})
	}
	return out, nil
}
