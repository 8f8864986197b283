#include "core/json_arena.hpp"

#include <cstdint>
#include <cstring>
#include <gtest/gtest.h>
#include <jansson.h>
#include <vector>

using provision_x::json_arena;
using provision_x::json_arena_backend;
using provision_x::json_arena_malloc_backend;
using provision_x::json_arena_scope;

namespace {

constexpr size_t align = alignof(std::max_align_t);

bool
aligned(const void *p)
{
    return reinterpret_cast<uintptr_t>(p) % align == 0;
}

/*
 * Stands in for the nginx request pool: hands out memory, never frees it
 * one chunk at a time, and drops everything at once when destroyed.
 */
struct fake_pool {
    std::vector<std::vector<unsigned char>> blocks;
    size_t calls = 0;
    bool refuse = false;

    static void *alloc(void *ctx, size_t size)
    {
        fake_pool *p = static_cast<fake_pool *>(ctx);
        if (p->refuse) {
            return nullptr;
        }
        p->calls++;
        p->blocks.emplace_back(size + align);
        unsigned char *mem = p->blocks.back().data();
        /* ngx_palloc aligns only to NGX_ALIGNMENT; model the worst case */
        return mem + sizeof(void *);
    }
};

const char sample[] =
    "{\"eventType\":\"fee\",\"feeLst\":[{\"a\":\"\xe4\xb8\xad\",\"b\":[1,2,3],"
    "\"c\":{\"d\":null,\"e\":1.5}}]}";

} // namespace

TEST(json_arena, allocations_are_aligned_and_counted)
{
    json_arena a;

    EXPECT_EQ(a.stats().chunk_allocs, 0u);

    void *p1 = a.allocate(1);
    void *p2 = a.allocate(17);
    void *p3 = a.allocate(0);

    ASSERT_NE(p1, nullptr);
    ASSERT_NE(p2, nullptr);
    ASSERT_NE(p3, nullptr);
    EXPECT_TRUE(aligned(p1));
    EXPECT_TRUE(aligned(p2));
    EXPECT_TRUE(aligned(p3));
    EXPECT_NE(p1, p2);
    EXPECT_NE(p2, p3);
    EXPECT_EQ(a.stats().chunk_allocs, 1u);
    EXPECT_EQ(a.stats().allocs, 3u);
    EXPECT_EQ(a.stats().used, align + 2 * align + align);

    std::memset(p2, 0xAB, 17); /* ASan: the block is really there */
}

TEST(json_arena, initial_buffer_is_used_first)
{
    alignas(std::max_align_t) unsigned char buf[1024];
    json_arena a(json_arena_malloc_backend(), buf, sizeof(buf));

    void *p = a.allocate(100);
    EXPECT_GE(static_cast<unsigned char *>(p), buf);
    EXPECT_LT(static_cast<unsigned char *>(p), buf + sizeof(buf));
    EXPECT_EQ(a.stats().chunk_allocs, 0u);

    /* overflow goes to a chunk; the buffer comes back after reset */
    a.allocate(2000);
    EXPECT_EQ(a.stats().chunk_allocs, 1u);
    a.reset();
    EXPECT_EQ(a.allocate(100), p);
}

TEST(json_arena, large_requests_get_their_own_chunk)
{
    json_arena a(json_arena_malloc_backend(), nullptr, 0, 4096);

    void *big = a.allocate(100000);
    ASSERT_NE(big, nullptr);
    std::memset(big, 0, 100000);
    EXPECT_EQ(a.stats().chunk_allocs, 1u);
    EXPECT_GE(a.stats().reserved, 100000u);
}

TEST(json_arena, reset_keeps_chunks_release_frees_them)
{
    json_arena a(json_arena_malloc_backend(), nullptr, 0, 4096);

    for (int i = 0; i < 10; i++) {
        ASSERT_NE(a.allocate(1000), nullptr);
    }
    size_t chunks = a.stats().chunks;
    EXPECT_GE(chunks, 3u);

    for (int round = 0; round < 100; round++) {
        a.reset();
        for (int i = 0; i < 10; i++) {
            ASSERT_NE(a.allocate(1000), nullptr);
        }
    }
    EXPECT_EQ(a.stats().chunks, chunks);
    EXPECT_EQ(a.stats().chunk_allocs, chunks);
    EXPECT_EQ(a.stats().chunk_releases, 0u);

    a.release_chunks();
    EXPECT_EQ(a.stats().chunks, 0u);
    EXPECT_EQ(a.stats().reserved, 0u);
    EXPECT_EQ(a.stats().chunk_releases, chunks);
    EXPECT_GE(a.stats().high_water, 10000u);
}

TEST(json_arena, pool_backend_is_never_released)
{
    fake_pool pool;
    {
        json_arena a(json_arena_backend{fake_pool::alloc, nullptr, &pool},
                     nullptr, 0, 2048);
        for (int i = 0; i < 20; i++) {
            void *p = a.allocate(300);
            ASSERT_NE(p, nullptr);
            EXPECT_TRUE(aligned(p));
            std::memset(p, 1, 300);
        }
        EXPECT_EQ(a.stats().chunk_allocs, pool.calls);
        EXPECT_GE(pool.calls, 3u);
    }
    /* nothing was handed back; the "pool" still owns it all */
    EXPECT_EQ(pool.blocks.size(), pool.calls);
}

TEST(json_arena, backend_refusal_and_cap_fail_cleanly)
{
    fake_pool pool;
    pool.refuse = true;
    json_arena a(json_arena_backend{fake_pool::alloc, nullptr, &pool}, nullptr,
                 0);
    EXPECT_EQ(a.allocate(10), nullptr);
    EXPECT_EQ(a.stats().failures, 1u);

    json_arena capped(json_arena_malloc_backend(), nullptr, 0, 4096, 10000);
    EXPECT_NE(capped.allocate(3000), nullptr);
    EXPECT_NE(capped.allocate(3000), nullptr);
    EXPECT_EQ(capped.allocate(9000), nullptr);
    EXPECT_LE(capped.stats().reserved, 10000u);
    EXPECT_EQ(capped.allocate(SIZE_MAX - 4), nullptr);
}

TEST(json_arena, scope_redirects_jansson_and_restores)
{
    json_malloc_t m0;
    json_free_t f0;
    json_get_alloc_funcs(&m0, &f0);

    json_arena a;
    json_t *root;
    {
        json_arena_scope scope(a);
        root = json_loads(sample, 0, nullptr);
        ASSERT_NE(root, nullptr);
        EXPECT_GT(a.stats().allocs, 5u);

        /* frees are no-ops inside the scope */
        size_t used = a.stats().used;
        json_t *tmp = json_loads("[1,2,3]", 0, nullptr);
        json_decref(tmp);
        EXPECT_GT(a.stats().used, used);
    }

    json_malloc_t m1;
    json_free_t f1;
    json_get_alloc_funcs(&m1, &f1);
    EXPECT_EQ(m0, m1);
    EXPECT_EQ(f0, f1);

    /* arena values are still readable after the scope; just dropped */
    json_t *lst = json_object_get(root, "feeLst");
    EXPECT_EQ(json_array_size(lst), 1u);
    EXPECT_STREQ(
        json_string_value(json_object_get(json_array_get(lst, 0), "a")),
        "\xe4\xb8\xad");

    /* outside the scope jansson is back on malloc */
    size_t allocs = a.stats().allocs;
    json_t *heap = json_loads(sample, 0, nullptr);
    ASSERT_NE(heap, nullptr);
    json_decref(heap);
    EXPECT_EQ(a.stats().allocs, allocs);
}

TEST(json_arena, scopes_nest)
{
    json_arena outer;
    json_arena inner;
    {
        json_arena_scope s1(outer);
        json_t *a = json_loads("[1]", 0, nullptr);
        size_t outer_allocs = outer.stats().allocs;
        {
            json_arena_scope s2(inner);
            json_t *b = json_loads("[2]", 0, nullptr);
            EXPECT_NE(b, nullptr);
            EXPECT_GT(inner.stats().allocs, 0u);
            EXPECT_EQ(outer.stats().allocs, outer_allocs);
        }
        json_t *c = json_loads("[3]", 0, nullptr);
        EXPECT_NE(a, nullptr);
        EXPECT_NE(c, nullptr);
        EXPECT_GT(outer.stats().allocs, outer_allocs);
    }
}

/*
 * jansson reports most allocation failures without an error code (or even
 * as a syntax error), so callers must look at the arena's failure counter.
 */
TEST(json_arena, out_of_memory_shows_in_the_counters)
{
    json_arena a(json_arena_malloc_backend(), nullptr, 0, 1024, 1500);
    json_error_t err;
    std::string big = "[";
    for (int i = 0; i < 1000; i++) {
        big += "\"abcdefghijklmnop\",";
    }
    big += "1]";

    json_t *root;
    {
        json_arena_scope scope(a);
        root = json_loadb(big.data(), big.size(), 0, &err);
    }
    EXPECT_EQ(root, nullptr);
    EXPECT_GT(a.stats().failures, 0u);
}

TEST(json_arena, thousands_of_parses_reach_a_steady_state)
{
    json_arena a(json_arena_malloc_backend(), nullptr, 0, 4096);

    for (int i = 0; i < 5000; i++) {
        a.reset();
        json_arena_scope scope(a);
        json_t *root = json_loads(sample, 0, nullptr);
        ASSERT_NE(root, nullptr);
    }

    EXPECT_EQ(a.stats().chunk_allocs, a.stats().chunks);
    EXPECT_LE(a.stats().chunk_allocs, 2u);
    EXPECT_EQ(a.stats().failures, 0u);
}
