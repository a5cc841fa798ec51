// cpucache.cpp: an opt-in caching allocator for libtorch's CPU tensors (see
// cpucache.go). Large blocks freed by tensors are kept and handed to later
// tensors of about the same size, so a training step that allocates the
// same activations and gradients as the step before gets memory that is
// already mapped, instead of fresh pages the kernel must fault in and zero.
#include "cpucache.h"
#include "fused_errors.h"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>

#include <cstdlib>
#include <cstring>
#include <exception>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace {

constexpr size_t kMinCached = size_t(1) << 20;  // smaller blocks: plain malloc (glibc reuses them itself)
constexpr size_t kRound = size_t(1) << 16;      // cached sizes are multiples of 64 KiB

void cache_delete(void *p);

struct CachingCPUAllocator final : public c10::Allocator {
  struct Free {
    void *p;
    uint64_t seq;  // when it was freed: older blocks go first
  };
  mutable std::mutex mu;
  mutable std::multimap<size_t, Free> free_blocks;   // size → block not in use
  mutable std::unordered_map<void *, size_t> sizes;  // every block this allocator made, in use or free
  mutable size_t cached = 0;                         // bytes in free_blocks
  mutable size_t limit = 0;                          // most bytes kept free
  mutable uint64_t seq = 0;
  mutable size_t hits = 0, misses = 0;

  // evict_locked removes the oldest free blocks until at least `need` bytes
  // are gone (or none is left) and returns them for freeing outside the lock.
  void evict_locked(size_t need, std::vector<void *> &drop) const {
    size_t freed = 0;
    while (freed < need && !free_blocks.empty()) {
      auto oldest = free_blocks.begin();
      for (auto it = free_blocks.begin(); it != free_blocks.end(); ++it) {
        if (it->second.seq < oldest->second.seq) oldest = it;
      }
      freed += oldest->first;
      cached -= oldest->first;
      sizes.erase(oldest->second.p);
      drop.push_back(oldest->second.p);
      free_blocks.erase(oldest);
    }
  }

  c10::DataPtr allocate(size_t n) const override {
    if (n < kMinCached) {
      void *p = c10::alloc_cpu(n);
      return {p, p, &c10::free_cpu, c10::Device(c10::DeviceType::CPU)};
    }
    const size_t want = (n + kRound - 1) / kRound * kRound;
    std::vector<void *> drop;
    {
      std::lock_guard<std::mutex> lock(mu);
      // Best fit among blocks at most 1/8 larger than asked for.
      auto it = free_blocks.lower_bound(want);
      if (it != free_blocks.end() && it->first <= want + want / 8) {
        void *p = it->second.p;
        cached -= it->first;
        free_blocks.erase(it);
        hits++;
        return {p, p, &cache_delete, c10::Device(c10::DeviceType::CPU)};
      }
      // A size the cache cannot serve: give back as much of the oldest
      // cached memory first, so that shapes that change (batches of varying
      // length) do not pile unusable blocks on top of new ones.
      misses++;
      evict_locked(want, drop);
    }
    for (void *q : drop) c10::free_cpu(q);
    void *p = c10::alloc_cpu(want);
    {
      std::lock_guard<std::mutex> lock(mu);
      sizes[p] = want;
    }
    return {p, p, &cache_delete, c10::Device(c10::DeviceType::CPU)};
  }

  c10::DeleterFnPtr raw_deleter() const override { return &cache_delete; }

  // release returns block p (made here) to the cache, dropping the oldest
  // free blocks if it does not fit, or to the system when it is larger than
  // the limit.
  void release(void *p) const {
    std::unique_lock<std::mutex> lock(mu);
    auto it = sizes.find(p);
    if (it == sizes.end()) {  // a small block from raw_allocate
      lock.unlock();
      c10::free_cpu(p);
      return;
    }
    const size_t n = it->second;
    std::vector<void *> drop;
    if (n <= limit) {
      if (cached + n > limit) evict_locked(cached + n - limit, drop);
      free_blocks.emplace(n, Free{p, seq++});
      cached += n;
    } else {
      sizes.erase(it);
      drop.push_back(p);
    }
    lock.unlock();
    for (void *q : drop) c10::free_cpu(q);
  }

  // trim frees every cached block.
  void trim() const {
    std::vector<void *> drop;
    {
      std::lock_guard<std::mutex> lock(mu);
      for (auto &kv : free_blocks) {
        sizes.erase(kv.second.p);
        drop.push_back(kv.second.p);
      }
      free_blocks.clear();
      cached = 0;
    }
    for (void *q : drop) c10::free_cpu(q);
  }
};

CachingCPUAllocator *g_cache = nullptr;
std::mutex g_install;

void cache_delete(void *p) {
  if (p != nullptr) g_cache->release(p);
}

}  // namespace

extern "C" {

char *gl_cpu_cache_enable(int64_t limit_bytes) {
  GL_TRY
    std::lock_guard<std::mutex> lock(g_install);
    if (limit_bytes <= 0) {
      // Off: new tensors come from libtorch's default allocator again;
      // blocks still in use come back here when freed and are released.
      if (g_cache == nullptr) return nullptr;
      c10::SetCPUAllocator(c10::GetDefaultCPUAllocator(), /*priority=*/100);
      {
        std::lock_guard<std::mutex> l(g_cache->mu);
        g_cache->limit = 0;
      }
      g_cache->trim();
      return nullptr;
    }
    if (g_cache == nullptr) {
      // Never destroyed: tensors made through it may outlive any caller.
      g_cache = new CachingCPUAllocator();
    }
    {
      std::lock_guard<std::mutex> l(g_cache->mu);
      g_cache->limit = size_t(limit_bytes);
    }
    c10::SetCPUAllocator(g_cache, /*priority=*/100);
    return nullptr;
  GL_CATCH
}

void gl_cpu_cache_trim(void) {
  if (g_cache != nullptr) g_cache->trim();
}

void gl_cpu_cache_stats(int64_t *cached, int64_t *limit, int64_t *hits, int64_t *misses) {
  *cached = *limit = *hits = *misses = 0;
  if (g_cache == nullptr) return;
  std::lock_guard<std::mutex> lock(g_cache->mu);
  *cached = int64_t(g_cache->cached);
  *limit = int64_t(g_cache->limit);
  *hits = int64_t(g_cache->hits);
  *misses = int64_t(g_cache->misses);
}

}  // extern "C"
