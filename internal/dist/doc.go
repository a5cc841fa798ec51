// Package dist runs training data-parallel across processes and machines on
// torch.distributed's c10d inside libtorch: a TCPStore for the rendezvous and
// ProcessGroupGloo (CPU) or ProcessGroupNCCL (CUDA builds) for the
// collectives, joined from the variables torchrun sets (RANK, WORLD_SIZE,
// LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT, TORCHELASTIC_*).
// Launch starts N local processes of the running program with those
// variables, as `torchrun --nproc-per-node N` would, and ends all of them
// when one fails.
package dist
