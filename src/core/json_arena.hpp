/*
 * A bump arena for jansson.
 *
 * Why: a 44 KB CDR push of 50 records makes jansson call malloc and free
 * several thousand times (one json_t per value, one buffer per string,
 * hashtable buckets, lexer buffers that grow by copy).  Parsing dominates
 * the CDR path, so we hand jansson bump-pointer memory instead and give the
 * whole lot back at once with the request.
 *
 * Shape:
 *   - json_arena hands out max_align_t-aligned blocks from chunks.  Chunks
 *     come from a json_arena_backend: the default one uses malloc and free;
 *     the nginx glue passes one that calls ngx_palloc on the request pool,
 *     whose memory is reclaimed wholesale with the pool.  The caller may
 *     also lend an initial buffer (stack or pool), used before any chunk.
 *   - json_arena_scope points jansson's process-global allocator hooks
 *     (json_set_alloc_funcs) at one arena for the lifetime of the scope and
 *     restores the previous hooks afterwards.  Inside a scope jansson's
 *     free is a no-op.
 *
 * THE RULE: a json_t built inside a scope lives exactly as long as its
 * arena.  Never json_decref it (nor json_object_del, json_array_clear,
 * ...) after the scope has ended: jansson would then pass arena memory to
 * the restored free().  Simply drop such values; reset() or destroying the
 * arena reclaims them.  Conversely, do not json_decref values that were
 * malloc'd outside a scope while a scope is active: the no-op free would
 * leak them.
 *
 * Threads: the hooks are process-global and the "current arena" is per
 * thread, so use scopes from one thread at a time (nginx workers are
 * single-threaded).  Scopes nest; each restores what it found.
 */
#ifndef PROVISION_X_CORE_JSON_ARENA_HPP
#define PROVISION_X_CORE_JSON_ARENA_HPP

#include <cstddef>
#include <cstdint>

namespace provision_x {

/*
 * Where chunks come from.  alloc returns at least `size` bytes aligned for
 * any type (malloc and ngx_palloc both do), or nullptr.  release may be
 * nullptr when the memory is reclaimed elsewhere (a pool).
 */
struct json_arena_backend {
    void *(*alloc)(void *ctx, size_t size);
    void (*release)(void *ctx, void *chunk, size_t size);
    void *ctx;
};

/* malloc/free; chunks are freed by release_chunks() and the destructor. */
json_arena_backend json_arena_malloc_backend() noexcept;

/* Counters, so tests and the status page can see what parsing costs. */
struct json_arena_stats {
    size_t chunk_allocs;   /* backend alloc calls over the arena's life */
    size_t chunk_releases; /* backend release calls over the arena's life */
    size_t chunks;         /* chunks currently held */
    size_t reserved;       /* bytes currently held in chunks */
    size_t used;           /* bytes handed out since the last reset */
    size_t high_water;     /* max `used` seen at any reset */
    size_t allocs;         /* allocate() calls since construction */
    size_t failures;       /* allocate() calls that returned nullptr */
};

class json_arena {
public:
    static constexpr size_t default_chunk_size = 64 * 1024;

    /* malloc-backed, no initial buffer. */
    json_arena() noexcept;

    /*
     * initial/initial_size: optional caller-owned buffer used first, never
     * freed by the arena.  chunk_size: minimum size asked from the backend
     * when the current chunk is full (larger requests get their own).
     * max_bytes: cap on the total asked from the backend; 0 = no cap.  A
     * cap turns a hostile body into json_error_out_of_memory instead of an
     * unbounded allocation.
     */
    json_arena(json_arena_backend backend, void *initial, size_t initial_size,
               size_t chunk_size = default_chunk_size,
               size_t max_bytes = 0) noexcept;

    ~json_arena();

    json_arena(const json_arena &) = delete;
    json_arena &operator=(const json_arena &) = delete;

    /* max_align_t-aligned; nullptr when the backend or the cap says no. */
    void *allocate(size_t size) noexcept;

    /*
     * Forget every allocation but keep the chunks for the next parse, so a
     * long-lived arena settles at zero backend calls per request.
     */
    void reset() noexcept;

    /*
     * Forget every allocation and hand all chunks back to the backend
     * (no-op release for pool backends).  The initial buffer is kept.
     */
    void release_chunks() noexcept;

    const json_arena_stats &stats() const noexcept
    {
        return stats_;
    }

private:
    struct chunk;

    bool grow(size_t size) noexcept;

    json_arena_backend backend_;
    unsigned char *initial_;
    size_t initial_size_;
    size_t chunk_size_;
    size_t max_bytes_;
    chunk *head_;  /* chunks in use, newest first */
    chunk *spare_; /* chunks kept by reset(), reused before growing */
    unsigned char *pos_;
    unsigned char *end_;
    json_arena_stats stats_;
};

/*
 * RAII: jansson allocates from `arena` until the scope ends.  Construct it
 * immediately around json_loadb (and any json_* calls that may allocate,
 * e.g. json_object_set_new on arena values), nothing else.
 */
class json_arena_scope {
public:
    explicit json_arena_scope(json_arena &arena) noexcept;
    ~json_arena_scope();

    json_arena_scope(const json_arena_scope &) = delete;
    json_arena_scope &operator=(const json_arena_scope &) = delete;

private:
    json_arena *prev_arena_;
    void *(*prev_malloc_)(size_t);
    void (*prev_free_)(void *);
};

} // namespace provision_x

#endif /* PROVISION_X_CORE_JSON_ARENA_HPP */
