#include "core/json_arena.hpp"

#include <cstdlib>
#include <cstring>
#include <jansson.h>

namespace provision_x {

namespace {

constexpr size_t arena_align = alignof(std::max_align_t);

/*
 * jansson's hooks take no context, so the arena in force is a per-thread
 * pointer.  A thread without a scope falls through to malloc/free, which
 * keeps other threads' jansson use correct while the hooks are ours.
 */
thread_local json_arena *current_arena = nullptr;

void *
arena_malloc(size_t size)
{
    json_arena *a = current_arena;

    if (a == nullptr) {
        return std::malloc(size);
    }

    return a->allocate(size);
}

void
arena_free(void *p)
{
    /* Arena memory is reclaimed wholesale; see THE RULE in the header. */
    if (current_arena == nullptr) {
        std::free(p);
    }
}

void *
malloc_backend_alloc(void *, size_t size)
{
    return std::malloc(size);
}

void
malloc_backend_release(void *, void *chunk, size_t)
{
    std::free(chunk);
}

inline unsigned char *
align_up(unsigned char *p) noexcept
{
    uintptr_t v = reinterpret_cast<uintptr_t>(p);

    v = (v + arena_align - 1) & ~static_cast<uintptr_t>(arena_align - 1);
    return reinterpret_cast<unsigned char *>(v);
}

} // namespace

struct json_arena::chunk {
    chunk *next;
    size_t size; /* as asked from the backend, header included */
};

json_arena_backend
json_arena_malloc_backend() noexcept
{
    return json_arena_backend{malloc_backend_alloc, malloc_backend_release,
                              nullptr};
}

json_arena::json_arena() noexcept
    : json_arena(json_arena_malloc_backend(), nullptr, 0)
{
}

json_arena::json_arena(json_arena_backend backend, void *initial,
                       size_t initial_size, size_t chunk_size,
                       size_t max_bytes) noexcept
    : backend_(backend), initial_(static_cast<unsigned char *>(initial)),
      initial_size_(initial ? initial_size : 0),
      chunk_size_(chunk_size < 1024 ? 1024 : chunk_size), max_bytes_(max_bytes),
      head_(nullptr), spare_(nullptr), pos_(nullptr), end_(nullptr), stats_()
{
    reset();
}

json_arena::~json_arena()
{
    release_chunks();
}

void *
json_arena::allocate(size_t size) noexcept
{
    stats_.allocs++;

    /* jansson never asks for 0, but malloc(0) may return a unique pointer */
    if (size == 0) {
        size = 1;
    }

    size = (size + arena_align - 1) & ~(arena_align - 1);

    if (size == 0 || static_cast<size_t>(end_ - pos_) < size) {
        if (size == 0 || !grow(size)) {
            stats_.failures++;
            return nullptr;
        }
    }

    void *p = pos_;
    pos_ += size;
    stats_.used += size;
    return p;
}

bool
json_arena::grow(size_t size) noexcept
{
    size_t overhead = sizeof(chunk) + arena_align;

    if (size > SIZE_MAX - overhead) {
        return false;
    }

    size_t need = size + overhead;

    /* first fit among the chunks kept by reset() */
    for (chunk **pp = &spare_; *pp != nullptr; pp = &(*pp)->next) {
        chunk *c = *pp;
        if (c->size >= need) {
            *pp = c->next;
            c->next = head_;
            head_ = c;
            pos_ = align_up(reinterpret_cast<unsigned char *>(c + 1));
            end_ = reinterpret_cast<unsigned char *>(c) + c->size;
            return true;
        }
    }

    size_t want = need > chunk_size_ ? need : chunk_size_;

    if (max_bytes_ != 0) {
        size_t room =
            stats_.reserved >= max_bytes_ ? 0 : max_bytes_ - stats_.reserved;

        if (need > room) {
            return false;
        }
        if (want > room) {
            want = room; /* an exact fit may still pass under the cap */
        }
    }

    void *mem = backend_.alloc(backend_.ctx, want);
    if (mem == nullptr) {
        return false;
    }

    stats_.chunk_allocs++;
    stats_.chunks++;
    stats_.reserved += want;

    chunk *c = static_cast<chunk *>(mem);
    c->next = head_;
    c->size = want;
    head_ = c;
    pos_ = align_up(reinterpret_cast<unsigned char *>(c + 1));
    end_ = reinterpret_cast<unsigned char *>(c) + want;
    return true;
}

void
json_arena::reset() noexcept
{
    if (stats_.used > stats_.high_water) {
        stats_.high_water = stats_.used;
    }
    stats_.used = 0;

    while (head_ != nullptr) {
        chunk *c = head_;
        head_ = c->next;
        c->next = spare_;
        spare_ = c;
    }

    if (initial_ != nullptr) {
        pos_ = align_up(initial_);
        end_ = initial_ + initial_size_;
        if (pos_ > end_) {
            pos_ = end_;
        }
    } else {
        pos_ = nullptr;
        end_ = nullptr;
    }
}

void
json_arena::release_chunks() noexcept
{
    reset();

    while (spare_ != nullptr) {
        chunk *c = spare_;
        spare_ = c->next;
        stats_.chunks--;
        stats_.reserved -= c->size;
        if (backend_.release != nullptr) {
            stats_.chunk_releases++;
            backend_.release(backend_.ctx, c, c->size);
        }
    }
}

json_arena_scope::json_arena_scope(json_arena &arena) noexcept
    : prev_arena_(current_arena)
{
    json_get_alloc_funcs(&prev_malloc_, &prev_free_);
    json_set_alloc_funcs(arena_malloc, arena_free);
    current_arena = &arena;
}

json_arena_scope::~json_arena_scope()
{
    current_arena = prev_arena_;
    json_set_alloc_funcs(prev_malloc_, prev_free_);
}

} // namespace provision_x
