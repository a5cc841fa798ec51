// Package checkpoint reads and writes model weight files in pure Go: the
// safetensors format (single files and sharded HuggingFace directories with
// model.safetensors.index.json) and PyTorch's zip-based torch.save format
// (pytorch_model.bin, torch >= 1.6, single or sharded with
// pytorch_model.bin.index.json).
//
// Reading is lazy: Open parses only headers (the safetensors JSON header or
// the pickle that describes a .bin file's tensors); the tensor bytes stay in
// the memory-mapped file until ReadFloat32 or ReadRaw asks for one tensor, so
// a caller that loads a model tensor by tensor never holds two copies of all
// weights.
//
// PyTorch pickles are interpreted by a small, restricted pickle machine that
// knows only the opcodes torch.save emits and only an allow-list of globals
// (collections.OrderedDict, torch._utils._rebuild_tensor_v2,
// torch._utils._rebuild_parameter, the torch.*Storage types, ...). Any other
// global is an error naming it: no code from a checkpoint is ever executed.
//
// WriteSafetensors writes files that safetensors.torch.load_file reads, with
// the header layout and tensor order of the Python safetensors library, and
// replaces the destination atomically.
package checkpoint
