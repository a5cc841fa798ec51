// cpucache.cpp: an opt-in caching allocator for libtorch's CPU tensors (see
// cpucache.go). Large blocks freed by tensors are kept and handed to later
// tensors, so a training step that allocates the same activations and
// gradients as the step before gets memory that is already mapped, instead
// of fresh pages the kernel must fault in and zero.
//
// Memory comes from the system in segments, one per allocation the cache
// could not serve. A segment is cut into blocks: a request takes the
// smallest free block that holds it (best fit), split when the rest is worth
// keeping, and a freed block merges with the free blocks beside it in its
// segment. So a freed 40 MB activation can serve two 20 MB ones, and a
// run of freed neighbours serves one larger tensor: shapes that differ from
// one phase to the next (forward, backward, optimizer) share the memory
// instead of each keeping blocks of its own sizes.
#include "cpucache.h"
#include "fused_errors.h"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <set>
#include <unordered_map>
#include <vector>

namespace {

constexpr size_t kMinCached = size_t(1) << 20;  // smaller blocks: plain malloc (glibc reuses them itself)
constexpr size_t kRound = size_t(1) << 16;      // block sizes and offsets are multiples of 64 KiB

void cache_delete(void *p);

// Block is a run of a segment's memory, in use by one tensor or free.
struct Block {
  char *p;
  size_t size;
  void *base;          // its segment's start: what the system gave, and takes back
  Block *prev, *next;  // neighbours in the segment, by address
  bool free;
  bool warm;     // free and its pages still mapped (not given back with madvise)
  uint64_t seq;  // when it was last freed: older blocks go first
};

// Free blocks ordered by size, then address: lower_bound finds the best fit.
struct BySize {
  bool operator()(const Block *a, const Block *b) const {
    return a->size != b->size ? a->size < b->size : a->p < b->p;
  }
};

bool whole(const Block *b) { return b->prev == nullptr && b->next == nullptr; }

// drop_pages gives the pages inside [p, p+n) back to the kernel; the range
// stays ours and reads as zeros when touched again.
void drop_pages(char *p, size_t n) {
  const uintptr_t page = uintptr_t(sysconf(_SC_PAGESIZE));
  const uintptr_t a = (uintptr_t(p) + page - 1) / page * page, e = (uintptr_t(p) + n) / page * page;
  if (e > a) madvise(reinterpret_cast<void *>(a), e - a, MADV_DONTNEED);
}

struct CachingCPUAllocator final : public c10::Allocator {
  mutable std::mutex mu;
  mutable std::set<Block *, BySize> free_blocks;  // every free block
  mutable std::unordered_map<void *, Block *> used;  // blocks in use, by address
  mutable size_t cached = 0;  // bytes in warm free blocks
  mutable size_t limit = 0;   // most bytes kept in warm free blocks
  mutable uint64_t seq = 0;
  mutable size_t hits = 0, misses = 0;

  void insert_free(Block *b) const {
    b->free = true;
    free_blocks.insert(b);
    if (b->warm) cached += b->size;
  }
  void erase_free(Block *b) const {
    free_blocks.erase(b);
    if (b->warm) cached -= b->size;
    b->free = false;
  }

  // take cuts `want` bytes off the front of free block b (already out of
  // free_blocks) and returns the rest to the free blocks when it is worth
  // keeping.
  void take(Block *b, size_t want) const {
    if (b->size - want >= kMinCached) {
      Block *r = new Block{b->p + want, b->size - want, b->base, b, b->next, false, b->warm, b->seq};
      if (b->next != nullptr) b->next->prev = r;
      b->next = r;
      b->size = want;
      insert_free(r);
    }
    used[b->p] = b;
  }

  // free_segment_locked hands whole free block b's segment to drop, for
  // freeing outside the lock.
  void free_segment_locked(Block *b, std::vector<void *> &drop) const {
    erase_free(b);
    drop.push_back(b->base);
    delete b;
  }

  // oldest_locked returns the warm free block freed longest ago, among whole
  // free segments only when whole_only is set; nullptr when there is none.
  // (A whole free segment is always warm: release frees it once cold.)
  Block *oldest_locked(bool whole_only) const {
    Block *oldest = nullptr;
    for (Block *b : free_blocks) {
      if (b->warm && (!whole_only || whole(b)) && (oldest == nullptr || b->seq < oldest->seq)) oldest = b;
    }
    return oldest;
  }

  // shrink_locked brings the warm free bytes down to lim: whole free
  // segments go back to the system, oldest first; then the pages of the
  // oldest free blocks (in segments partly in use) go back to the kernel.
  // Segments to free are added to drop, for freeing outside the lock.
  void shrink_locked(size_t lim, std::vector<void *> &drop) const {
    while (cached > lim) {
      Block *oldest = oldest_locked(true);
      if (oldest == nullptr) break;
      free_segment_locked(oldest, drop);
    }
    while (cached > lim) {
      Block *oldest = oldest_locked(false);
      if (oldest == nullptr) break;
      drop_pages(oldest->p, oldest->size);
      oldest->warm = false;
      cached -= oldest->size;
    }
  }

  // merge joins free block b with its free neighbour n (n == b->next), b
  // staying; the result is warm only if both were, so a warm part's pages
  // are dropped when it joins a cold one (cached counts warm bytes exactly).
  void merge_locked(Block *b, Block *n) const {
    if (b->warm != n->warm) {
      Block *w = b->warm ? b : n;
      drop_pages(w->p, w->size);
    }
    const bool warm = b->warm && n->warm;
    erase_free(b);
    erase_free(n);
    b->size += n->size;
    b->next = n->next;
    if (n->next != nullptr) n->next->prev = b;
    b->warm = warm;
    delete n;
    insert_free(b);
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
      Block key{nullptr, want, nullptr, nullptr, nullptr, false, false, 0};
      auto it = free_blocks.lower_bound(&key);
      if (it != free_blocks.end()) {
        Block *b = *it;
        erase_free(b);
        take(b, want);
        if (b->warm) hits++; else misses++;
        b->warm = true;
        return {b->p, b->p, &cache_delete, c10::Device(c10::DeviceType::CPU)};
      }
      misses++;
      // No free block holds it. Whole free segments smaller than it cannot
      // serve it either: give back as many of their bytes as it needs,
      // oldest first, so that shapes that grow (batches of varying length)
      // replace segments instead of piling new ones on top of old ones.
      size_t freed = 0;
      while (freed < want) {
        Block *oldest = oldest_locked(true);
        if (oldest == nullptr) break;
        freed += oldest->size;
        free_segment_locked(oldest, drop);
      }
    }
    for (void *q : drop) c10::free_cpu(q);
    // A new segment of exactly this size.
    void *p = c10::alloc_cpu(want);
    std::lock_guard<std::mutex> lock(mu);
    used[p] = new Block{static_cast<char *>(p), want, p, nullptr, nullptr, false, true, 0};
    return {p, p, &cache_delete, c10::Device(c10::DeviceType::CPU)};
  }

  c10::DeleterFnPtr raw_deleter() const override { return &cache_delete; }

  // release returns block p (made here) to the free blocks, merged with the
  // free blocks beside it, and then keeps the warm free bytes within the
  // limit.
  void release(void *p) const {
    std::unique_lock<std::mutex> lock(mu);
    auto it = used.find(p);
    if (it == used.end()) {  // a small block from raw_allocate
      lock.unlock();
      c10::free_cpu(p);
      return;
    }
    Block *b = it->second;
    used.erase(it);
    b->seq = seq++;
    b->warm = true;
    insert_free(b);
    if (b->next != nullptr && b->next->free) merge_locked(b, b->next);
    if (b->prev != nullptr && b->prev->free) {
      Block *a = b->prev;
      a->seq = b->seq;
      merge_locked(a, b);
      b = a;
    }
    std::vector<void *> drop;
    // A whole segment whose pages are gone is worth nothing kept.
    if (whole(b) && !b->warm) free_segment_locked(b, drop);
    shrink_locked(limit, drop);
    lock.unlock();
    for (void *q : drop) c10::free_cpu(q);
  }

  // shrink sets the limit (when set_limit) and brings the warm free bytes
  // down to lim. shrink(0, false) is trim: every free block given back,
  // whole free segments to the system, the pages of free blocks in segments
  // still partly in use to the kernel.
  void shrink(size_t lim, bool set_limit) const {
    std::vector<void *> drop;
    {
      std::lock_guard<std::mutex> lock(mu);
      if (set_limit) limit = lim;
      shrink_locked(lim, drop);
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
      g_cache->shrink(0, true);
      return nullptr;
    }
    if (g_cache == nullptr) {
      // Never destroyed: tensors made through it may outlive any caller.
      g_cache = new CachingCPUAllocator();
    }
    g_cache->shrink(size_t(limit_bytes), true);
    c10::SetCPUAllocator(g_cache, /*priority=*/100);
    return nullptr;
  GL_CATCH
}

void gl_cpu_cache_trim(void) {
  if (g_cache != nullptr) g_cache->shrink(0, false);
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
