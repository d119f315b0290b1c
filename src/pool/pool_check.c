/* A full consistency check of a pool's records, lists, index, page maps and
 * counters, for the tests: every invariant the engine relies on, in one
 * place. O(blocks + classes); never called by the library itself. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "pool/pool_index.h"
#include "pool/pool_internal.h"
#include "pool/pool_quick.h"

typedef struct check {
  char *message;
  size_t capacity;
  bool failed;
} check;

static bool fail(check *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static bool fail(check *c, const char *fmt, ...) {
  if (!c->failed) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->message, c->capacity, fmt, ap);
    va_end(ap);
  }
  c->failed = true;
  return false;
}

#define EXPECT(c, cond, ...) ((cond) ? true : fail((c), __VA_ARGS__))

typedef struct totals {
  uint64_t free_blocks, free_bytes, live_blocks, live_bytes, reserved;
  uint64_t segments, empty, empty_bytes, decommitted, dirty, dirty_bytes;
  uint64_t indexed, kept, waiting, waiting_bytes;
} totals;

static bool page_bit(const tp_segment *seg, uint64_t i) {
  return seg->pages[i / 64] >> (i % 64) & 1u;
}

static bool check_pages(tp_pool *pool, check *c, uint32_t s, totals *t) {
  tp_segment *seg = tp_seg(pool, s);
  if (!seg->pages || !pool->page)
    return true;
  uint64_t page = pool->page;
  for (uint32_t b = seg->first; b != TP_NIL; b = tp_blk(pool, b)->next) {
    tp_block *blk = tp_blk(pool, b);
    uint64_t first = (blk->ptr - seg->base) / page;
    uint64_t end = (blk->ptr + blk->bytes - seg->base + page - 1) / page;
    /* Pages are given back from inside free blocks; one may end up under
     * the edges of two free blocks (a block whose commit failed went back
     * without merging), never under a live one. */
    for (uint64_t i = first; i < end; i++) {
      if (!page_bit(seg, i))
        continue;
      if (!EXPECT(c, blk->state == TP_BLOCK_FREE,
                  "page %" PRIu64 " of segment %u is given back but lies "
                  "under live block %u",
                  i, s, b) ||
          !EXPECT(c, blk->flags & TP_BLOCK_DECOMMITTED,
                  "free block %u has given-back pages but no flag", b))
        return false;
    }
  }
  uint64_t pages = seg->bytes / page;
  for (uint64_t i = 0; i < pages; i++)
    t->decommitted += page_bit(seg, i) ? page : 0;
  for (uint64_t i = pages; i < seg->page_words * 64; i++)
    if (!EXPECT(c, !page_bit(seg, i),
                "segment %u has a page bit set past its end", s))
      return false;
  return true;
}

static bool check_segment(tp_pool *pool, check *c, uint32_t s, totals *t) {
  tp_segment *seg = tp_seg(pool, s);
  t->segments++;
  t->reserved += seg->bytes;
  uintptr_t at = seg->base;
  uint32_t prev = TP_NIL, live = 0, count = 0;
  for (uint32_t b = seg->first; b != TP_NIL; b = tp_blk(pool, b)->next) {
    tp_block *blk = tp_blk(pool, b);
    if (!EXPECT(c, blk->prev == prev, "block %u: prev %u, expected %u", b,
                blk->prev, prev) ||
        !EXPECT(c, blk->ptr == at,
                "block %u starts at %#" PRIxPTR ", expected %#" PRIxPTR
                " (segment %u)",
                b, blk->ptr, at, s) ||
        !EXPECT(c, blk->bytes >= TP_ALIGNMENT && blk->bytes % TP_ALIGNMENT == 0,
                "block %u has %" PRIu64 " bytes", b, blk->bytes) ||
        !EXPECT(c, blk->seg == s && blk->kind == seg->kind,
                "block %u names segment %u kind %u, is in %u kind %u", b,
                blk->seg, blk->kind, s, seg->kind) ||
        !EXPECT(c, blk->state == TP_BLOCK_FREE || blk->state == TP_BLOCK_LIVE,
                "block %u in segment %u is a spare record", b, s))
      return false;
    if (blk->state == TP_BLOCK_LIVE) {
      live++;
      t->live_blocks++;
      t->live_bytes += blk->bytes;
      /* In the pointer map (its packed size right), or waiting on a quick
       * list (its record says live until it merges). */
      size_t entry = tp_ptr_map_index(&pool->map, blk->ptr);
      uint32_t q =
          entry == SIZE_MAX ? tp_quick_find(pool, blk->ptr) : TP_QUICK_NONE;
      if (q != TP_QUICK_NONE) {
        t->waiting++;
        t->waiting_bytes += blk->bytes;
      }
      uint32_t packed = entry == SIZE_MAX ? 0 : pool->map.entries[entry].size;
      if (!EXPECT(c,
                  (entry != SIZE_MAX && pool->map.entries[entry].value == b) ||
                      (q != TP_QUICK_NONE && pool->quick_nodes[q].block == b),
                  "live block %u at %#" PRIxPTR
                  " is neither in the pointer map nor waiting",
                  b, blk->ptr) ||
          !EXPECT(c, packed == 0 || tp_size_bytes(packed) == blk->bytes,
                  "live block %u of %" PRIu64
                  " bytes: its map entry says %" PRIu64,
                  b, blk->bytes, tp_size_bytes(packed)))
        return false;
    } else {
      t->free_blocks++;
      t->free_bytes += blk->bytes;
      t->indexed += (blk->flags & TP_BLOCK_INDEXED) != 0;
      if (blk->flags & TP_BLOCK_DIRTY) {
        t->dirty++;
        t->dirty_bytes += tp_pages_inside(pool, blk->ptr, blk->bytes);
      }
      if (prev != TP_NIL && tp_blk(pool, prev)->state == TP_BLOCK_FREE) {
        unsigned a = tp_blk(pool, prev)->slot, d = blk->slot;
        if (!EXPECT(c, a != d && a != TP_SLOT_READY && d != TP_SLOT_READY,
                    "free blocks %u and %u (slots %u, %u, stamps %" PRIu64
                    ", %" PRIu64 ", %" PRIu64 "+%" PRIu64 " bytes) are "
                    "neighbours that should have merged",
                    prev, b, a, d, tp_blk(pool, prev)->u.f.stamp,
                    blk->u.f.stamp, tp_blk(pool, prev)->bytes, blk->bytes))
          return false;
      }
      if (!EXPECT(c, tp_ptr_map_find(&pool->map, blk->ptr) == TP_NIL,
                  "free block %u is in the pointer map", b))
        return false;
    }
    at += blk->bytes;
    prev = b;
    if (!EXPECT(c, ++count <= pool->block_cap, "segment %u loops", s))
      return false;
  }
  bool one_free = seg->first == seg->last && seg->first != TP_NIL &&
                  tp_blk(pool, seg->first)->state == TP_BLOCK_FREE;
  if (seg->empty) {
    t->empty++;
    t->empty_bytes += seg->bytes;
  }
  return EXPECT(c, prev == seg->last, "segment %u: last %u, walk ends at %u", s,
                seg->last, prev) &&
         EXPECT(c, at == seg->base + seg->bytes,
                "segment %u: blocks end at %#" PRIxPTR
                ", segment at %#" PRIxPTR,
                s, at, seg->base + seg->bytes) &&
         EXPECT(c, live == seg->live, "segment %u counts %u live, has %u", s,
                seg->live, live) &&
         EXPECT(c, (bool)seg->empty == one_free,
                "segment %u: empty flag %u, one free block %d", s, seg->empty,
                one_free) &&
         check_pages(pool, c, s, t);
}

static bool check_index(tp_pool *pool, check *c, uint64_t *listed) {
  *listed = 0;
  for (unsigned k = 0; k < TP_KINDS; k++) {
    tp_free_index *ix = &pool->index[k];
    for (unsigned w = 0; w < pool->class_words; w++)
      if (!EXPECT(c, ((ix->summary >> w) & 1u) == (ix->words[w] != 0),
                  "kind %u: summary bit %u disagrees with its word", k, w))
        return false;
    for (unsigned cls = 0; cls < pool->classes.count; cls++) {
      tp_bin *bin = ix->bins[cls];
      bool bit = ix->words[cls / 64] >> (cls % 64) & 1u;
      if (!EXPECT(c, bit == (bin && bin->slot_mask),
                  "kind %u class %u: bit %d, lists %s", k, cls, bit,
                  bin && bin->slot_mask ? "non-empty" : "empty"))
        return false;
      /* Only the lists the mask names: a list it misses would leave blocks
       * flagged indexed but not listed, which the totals catch. */
      for (uint64_t mask = bin ? bin->slot_mask : 0; mask; mask &= mask - 1) {
        unsigned s = (unsigned)__builtin_ctzll(mask);
        if (!EXPECT(c, bin->heads[s] != TP_NIL,
                    "kind %u class %u slot %u: mask set, list empty", k, cls,
                    s))
          return false;
        uint32_t prev = TP_NIL;
        for (uint32_t b = bin->heads[s]; b != TP_NIL;
             b = tp_blk(pool, b)->u.f.next) {
          tp_block *blk = tp_blk(pool, b);
          (*listed)++;
          if (!EXPECT(
                  c,
                  blk->state == TP_BLOCK_FREE && blk->kind == k &&
                      blk->cls == cls && blk->slot == s &&
                      (blk->flags & TP_BLOCK_INDEXED) && blk->u.f.prev == prev,
                  "block %u listed under kind %u class %u slot %u is "
                  "state %u kind %u class %u slot %u",
                  b, k, cls, s, blk->state, blk->kind, blk->cls, blk->slot) ||
              !EXPECT(c, tp_index_class_of_free(pool, blk->bytes) == cls,
                      "block %u of %" PRIu64 " bytes listed in class %u", b,
                      blk->bytes, cls) ||
              !EXPECT(c, *listed <= pool->block_cap, "a free list loops"))
            return false;
          prev = b;
        }
      }
    }
  }
  return true;
}

/* The quick lists: each node's block live to its record, at the node's
 * address and size, of its list's class, out of the pointer map, under a
 * named slot; the bits, counts and bytes as counted; every node listed or
 * spare. */
static bool check_quick(tp_pool *pool, check *c) {
  uint64_t blocks = 0, bytes = 0, spare = 0;
  for (unsigned cls = 0; cls < pool->classes.count; cls++) {
    bool bit = pool->quick_words[cls / 64] >> (cls % 64) & 1u;
    if (!EXPECT(c, bit == (pool->quick[cls] != TP_QUICK_NONE),
                "quick list of class %u: bit %d, head %u", cls, bit,
                pool->quick[cls]))
      return false;
    for (uint32_t q = pool->quick[cls]; q != TP_QUICK_NONE;
         q = pool->quick_nodes[q].next) {
      const tp_quick_node *node = &pool->quick_nodes[q];
      uint64_t size = (uint64_t)node->units << 8;
      tp_block *blk =
          node->block < pool->block_cap ? tp_blk(pool, node->block) : NULL;
      if (!EXPECT(c,
                  blk && blk->state == TP_BLOCK_LIVE && blk->ptr == node->ptr &&
                      blk->bytes == size,
                  "quick node %u (block %u at %#" PRIxPTR ", %" PRIu64
                  " bytes) does not match its record",
                  q, node->block, node->ptr, size) ||
          !EXPECT(c, tp_size_class_of(&pool->classes, (size_t)size) == cls,
                  "block %u of %" PRIu64 " bytes on the quick list of class %u",
                  node->block, size, cls) ||
          !EXPECT(c, tp_ptr_map_find(&pool->map, node->ptr) == TP_NIL,
                  "waiting block %u is in the pointer map", node->block) ||
          !EXPECT(c,
                  node->slot == TP_SLOT_READY ||
                      (pool->used_slots >> node->slot & 1u),
                  "block %u on a quick list waits under unnamed slot %u",
                  node->block, node->slot) ||
          !EXPECT(c, ++blocks <= TP_QUICK_MAX_BLOCKS, "a quick list loops"))
        return false;
      bytes += size;
    }
  }
  for (uint32_t q = pool->quick_spare; q != TP_QUICK_NONE;
       q = pool->quick_nodes[q].next)
    if (!EXPECT(c, ++spare <= TP_QUICK_MAX_BLOCKS, "spare nodes loop"))
      return false;
  return EXPECT(c,
                blocks == pool->quick_blocks && bytes == pool->quick_bytes &&
                    blocks + spare == TP_QUICK_MAX_BLOCKS,
                "quick lists hold %" PRIu64 " blocks of %" PRIu64
                " bytes (%" PRIu64 " spare nodes), counted %u of %" PRIu64,
                blocks, bytes, spare, pool->quick_blocks, pool->quick_bytes) &&
         EXPECT(c, pool->quick_on || !blocks,
                "quick lists hold blocks while deferral is off") &&
         EXPECT(c,
                !pool->quick_large ||
                    (blocks == 1 && bytes > tp_quick_cap(pool)),
                "a large block waits with %" PRIu64 " blocks of %" PRIu64
                " bytes on the quick lists",
                blocks, bytes) &&
         EXPECT(c, pool->quick_large || bytes <= tp_quick_cap(pool),
                "quick lists hold %" PRIu64 " bytes, over their bound", bytes);
}

int tp_pool_validate(tp_pool *pool, char *message, size_t capacity) {
  tp_lock_acquire(&pool->lock);
  int rc = tp_pool_validate_locked(pool, message, capacity);
  tp_lock_release(&pool->lock);
  return rc;
}

int tp_pool_validate_locked(tp_pool *pool, char *message, size_t capacity) {
  check c = {message, capacity, false};
  if (capacity)
    message[0] = '\0';
  totals t = {0};
  for (uint32_t s = 0; s < pool->seg_cap && !c.failed; s++)
    if (tp_seg(pool, s)->used)
      check_segment(pool, &c, s, &t);
  uint64_t listed = 0;
  if (!c.failed)
    check_index(pool, &c, &listed);
  if (!c.failed)
    check_quick(pool, &c);
  for (unsigned k = 0; k < TP_KINDS && !c.failed; k++) {
    uint32_t kept = pool->dv[k];
    if (kept != TP_NIL) {
      tp_block *blk = tp_blk(pool, kept);
      EXPECT(&c,
             blk->state == TP_BLOCK_FREE && blk->kind == k &&
                 !(blk->flags & TP_BLOCK_INDEXED),
             "kept block %u of kind %u: state %u kind %u flags %#x", kept, k,
             blk->state, blk->kind, blk->flags);
      t.kept++;
    }
  }
  uint64_t dirty_listed = 0;
  for (uint32_t b = pool->dirty_head; !c.failed && b != TP_NIL;
       b = tp_blk(pool, b)->u.f.dnext) {
    EXPECT(&c, tp_blk(pool, b)->flags & TP_BLOCK_DIRTY,
           "block %u is on the dirty list without its flag", b);
    EXPECT(&c, ++dirty_listed <= pool->block_cap, "the dirty list loops");
  }
  const tp_pool_stats *s = &pool->stats;
  if (!c.failed)
    (void)(EXPECT(&c,
                  t.waiting == pool->quick_blocks &&
                      t.waiting_bytes == pool->quick_bytes,
                  "%" PRIu64 " blocks of %" PRIu64 " bytes found waiting, "
                  "%u of %" PRIu64 " counted",
                  t.waiting, t.waiting_bytes, pool->quick_blocks,
                  pool->quick_bytes) &&
           EXPECT(&c, t.free_blocks + t.waiting == s->cached_blocks,
                  "%" PRIu64 " free blocks and %" PRIu64
                  " waiting, cached_blocks %" PRIu64,
                  t.free_blocks, t.waiting, s->cached_blocks) &&
           EXPECT(&c, t.free_bytes + t.waiting_bytes == s->cached_bytes,
                  "%" PRIu64 " free bytes, cached_bytes %" PRIu64,
                  t.free_bytes + t.waiting_bytes, s->cached_bytes) &&
           EXPECT(&c, t.live_blocks - t.waiting == s->live_blocks,
                  "%" PRIu64 " live blocks, live_blocks %" PRIu64,
                  t.live_blocks - t.waiting, s->live_blocks) &&
           EXPECT(&c, t.live_bytes - t.waiting_bytes == s->live_bytes,
                  "%" PRIu64 " live bytes, live_bytes %" PRIu64,
                  t.live_bytes - t.waiting_bytes, s->live_bytes) &&
           EXPECT(&c, t.reserved == s->reserved_bytes,
                  "%" PRIu64 " segment bytes, reserved_bytes %" PRIu64,
                  t.reserved, s->reserved_bytes) &&
           EXPECT(&c, t.segments == s->segments,
                  "%" PRIu64 " segments, counted %" PRIu64, t.segments,
                  s->segments) &&
           EXPECT(&c,
                  t.empty == s->free_segments &&
                      t.empty_bytes == s->free_segment_bytes,
                  "%" PRIu64 " whole free segments of %" PRIu64
                  " bytes, counted %" PRIu64 " of %" PRIu64,
                  t.empty, t.empty_bytes, s->free_segments,
                  s->free_segment_bytes) &&
           EXPECT(&c, t.decommitted == s->decommitted_bytes,
                  "%" PRIu64 " bytes of pages given back, counted %" PRIu64,
                  t.decommitted, s->decommitted_bytes) &&
           EXPECT(&c, listed == t.indexed,
                  "%" PRIu64 " blocks in the index, %" PRIu64 " flagged",
                  listed, t.indexed) &&
           EXPECT(&c, t.indexed + t.kept == t.free_blocks,
                  "%" PRIu64 " free blocks, %" PRIu64 " indexed and %" PRIu64
                  " kept",
                  t.free_blocks, t.indexed, t.kept) &&
           EXPECT(&c,
                  dirty_listed == t.dirty && t.dirty_bytes == pool->dirty_bytes,
                  "dirty list: %" PRIu64 " listed, %" PRIu64
                  " flagged, %" PRIu64 " bytes counted %" PRIu64,
                  dirty_listed, t.dirty, t.dirty_bytes, pool->dirty_bytes) &&
           EXPECT(&c, pool->map.count == t.live_blocks - t.waiting,
                  "pointer map holds %zu, %" PRIu64 " live", pool->map.count,
                  t.live_blocks - t.waiting));
  return c.failed ? -1 : 0;
}

/* Every segment's blocks, one line each, on stderr: for a test that needs
 * to see a state it is about to break. */
void tp_pool_debug_dump(tp_pool *pool) {
  tp_lock_acquire(&pool->lock);
  for (uint32_t s = 0; s < pool->seg_cap; s++) {
    tp_segment *seg = tp_seg(pool, s);
    if (!seg->used)
      continue;
    fprintf(stderr, "segment %u kind %u bytes %llu (clock %llu, dirty %llu)\n",
            s, seg->kind, (unsigned long long)seg->bytes,
            (unsigned long long)pool->clock,
            (unsigned long long)pool->dirty_bytes);
    for (uint32_t x = seg->first; x != TP_NIL; x = tp_blk(pool, x)->next)
      fprintf(
          stderr, "  blk %u %s slot %u stamp %llu bytes %llu flags %#x%s\n", x,
          tp_blk(pool, x)->state == TP_BLOCK_FREE ? "free" : "live",
          tp_blk(pool, x)->slot, (unsigned long long)tp_blk(pool, x)->u.f.stamp,
          (unsigned long long)tp_blk(pool, x)->bytes, tp_blk(pool, x)->flags,
          pool->dv[seg->kind] == x ? " (kept)" : "");
  }
  tp_lock_release(&pool->lock);
}
