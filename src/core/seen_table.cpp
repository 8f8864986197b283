/*
 * The fixed-slot digest table (seen_table.hpp has the why).
 */
#include "core/seen_table.hpp"

#include <cstring>

namespace provision_x {

namespace {

constexpr uint32_t seen_magic = 0x4e535850; /* "PXSN" */
constexpr uint32_t seen_version = 2;
constexpr uint32_t total_row = seen_owners;

uint64_t
load64(const unsigned char *p) noexcept
{
    uint64_t v;
    std::memcpy(&v, p, sizeof(v));
    return v;
}

/* murmur3's finaliser: every input bit reaches every output bit */
uint64_t
mix(uint64_t x) noexcept
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

uint32_t
scale(uint64_t x, uint32_t n) noexcept
{
    return static_cast<uint32_t>((static_cast<unsigned __int128>(x) * n) >> 64);
}

/*
 * The salt keeps a sender who chooses nonces from aiming many digests at
 * the same two buckets.
 */
void
buckets_of(const seen_header *h, const unsigned char *digest, uint32_t *a,
           uint32_t *b) noexcept
{
    *a = scale(mix(load64(digest) ^ h->salt), h->buckets);
    *b = scale(mix(load64(digest + 8) ^ ~h->salt), h->buckets);
}

int64_t
relative(const seen_header *h, int64_t t) noexcept
{
    return t - h->epoch;
}

uint32_t
expire_of(const seen_slot &s) noexcept
{
    return __atomic_load_n(&s.expire, __ATOMIC_ACQUIRE);
}

bool
live(const seen_slot &s, int64_t now_rel) noexcept
{
    uint32_t expire = expire_of(s);

    return expire != 0 && static_cast<int64_t>(expire) > now_rel;
}

bool
same_digest(const seen_slot &s, const unsigned char *digest) noexcept
{
    return load64(s.digest) == load64(digest)
           && load64(s.digest + 8) == load64(digest + 8);
}

uint32_t
owner_of(const seen_slot &s) noexcept
{
    return s.owner < seen_owners ? s.owner : seen_no_owner;
}

void
count_up(seen_header *h, uint32_t owner) noexcept
{
    h->counts[owner]++;
    h->counts[total_row]++;
}

void
count_down(seen_header *h, uint32_t owner) noexcept
{
    if (h->counts[owner] != 0) {
        h->counts[owner]--;
    }

    if (h->counts[total_row] != 0) {
        h->counts[total_row]--;
    }
}

/*
 * An expired slot that is still counted becomes free and uncounted: its
 * expiry goes first, so a worker killed before the count comes down
 * leaves that count one too high, never too low.
 */
void
reclaim(seen_header *h, seen_slot *s, int64_t now_rel) noexcept
{
    uint32_t expire = expire_of(*s);

    if (expire == 0 || static_cast<int64_t>(expire) > now_rel) {
        return;
    }

    __atomic_store_n(&s->expire, 0u, __ATOMIC_RELEASE);
    count_down(h, owner_of(*s));
}

void
sweep(seen_header *h, int64_t now_rel) noexcept
{
    uint64_t n = static_cast<uint64_t>(h->buckets) * seen_bucket_slots;

    for (uint32_t i = 0; i < seen_sweep_slots; i++) {
        reclaim(h, &h->slots[h->sweep % n], now_rel);
        h->sweep = (h->sweep + 1) % n;
    }
}

/*
 * The insert itself, into a free slot: counted first, then the digest
 * and owner, the expiry last, so that a worker killed half-way leaves a
 * slot that is still free (and a count that is at most one too high).
 */
void
fill(seen_header *h, seen_slot *s, const unsigned char *digest,
     uint32_t expire_rel, uint32_t owner) noexcept
{
    count_up(h, owner);
    std::memcpy(s->digest, digest, seen_digest_size);
    s->owner = static_cast<uint16_t>(owner);
    __atomic_store_n(&s->expire, expire_rel, __ATOMIC_RELEASE);
}

seen_slot *
free_slot_in(seen_header *h, uint32_t bucket, int64_t now_rel) noexcept
{
    seen_slot *s = &h->slots[bucket * seen_bucket_slots];

    for (uint32_t i = 0; i < seen_bucket_slots; i++) {
        if (!live(s[i], now_rel)) {
            reclaim(h, &s[i], now_rel);
            return &s[i];
        }
    }

    return nullptr;
}

/*
 * Both buckets of a digest are full: move one of their entries to its own
 * other bucket, if that has room (one step of cuckoo hashing, bounded to
 * 16 entries).  The copy is whole before the original is freed, so a
 * worker killed in between leaves the entry twice (and counted twice),
 * never lost.
 */
seen_slot *
make_room(seen_header *h, seen_slot *const bucket[2], int64_t now_rel) noexcept
{
    for (int k = 0; k < 2; k++) {
        for (uint32_t i = 0; i < seen_bucket_slots; i++) {
            seen_slot *s = &bucket[k][i];
            uint32_t a, b;

            buckets_of(h, s->digest, &a, &b);

            auto here =
                static_cast<uint32_t>((s - h->slots) / seen_bucket_slots);
            uint32_t other = (here == a) ? b : a;

            if (other == here) {
                continue;
            }

            seen_slot *to = free_slot_in(h, other, now_rel);
            if (to == nullptr) {
                continue;
            }

            fill(h, to, s->digest, expire_of(*s), owner_of(*s));
            __atomic_store_n(&s->expire, 0u, __ATOMIC_RELEASE);
            count_down(h, owner_of(*s));

            return s;
        }
    }

    return nullptr;
}

seen_result
insert(seen_header *h, const unsigned char *digest, int64_t expire,
       uint32_t owner, uint64_t share, int64_t now_rel) noexcept
{
    int64_t expire_rel = relative(h, expire);

    if (expire_rel > UINT32_MAX) {
        expire_rel = UINT32_MAX;
    }

    uint32_t a, b;
    buckets_of(h, digest, &a, &b);

    seen_slot *bucket[2] = {&h->slots[a * seen_bucket_slots],
                            &h->slots[b * seen_bucket_slots]};
    seen_slot *free_slot[2] = {nullptr, nullptr};
    uint32_t free_count[2] = {0, 0};

    for (int k = 0; k < 2; k++) {
        for (uint32_t i = 0; i < seen_bucket_slots; i++) {
            seen_slot *s = &bucket[k][i];

            if (!live(*s, now_rel)) {
                if (free_slot[k] == nullptr) {
                    free_slot[k] = s;
                }

                free_count[k]++;
                continue;
            }

            if (same_digest(*s, digest)) {
                return seen_result::present;
            }
        }
    }

    if (expire_rel <= now_rel) {
        /* already expired: there is nothing to remember */
        return seen_result::added;
    }

    if (share != 0 && h->counts[owner] >= share) {
        h->refused_share++;
        return seen_result::over_share;
    }

    /* the emptier bucket keeps the two choices balanced */
    seen_slot *s =
        (free_count[1] > free_count[0]) ? free_slot[1] : free_slot[0];

    if (s != nullptr) {
        reclaim(h, s, now_rel);

    } else {
        s = make_room(h, bucket, now_rel);

        if (s == nullptr) {
            h->refused_full++;
            return seen_result::full;
        }
    }

    fill(h, s, digest, static_cast<uint32_t>(expire_rel), owner);

    return seen_result::added;
}

} // namespace

size_t
seen_table_bytes(uint32_t buckets) noexcept
{
    return offsetof(seen_header, slots)
           + static_cast<size_t>(buckets) * seen_bucket_slots
                 * sizeof(seen_slot);
}

uint32_t
seen_buckets_for(size_t bytes) noexcept
{
    size_t head = offsetof(seen_header, slots);

    if (bytes < head) {
        return 0;
    }

    size_t n = (bytes - head) / (seen_bucket_slots * sizeof(seen_slot));

    return n > UINT32_MAX / seen_bucket_slots ? UINT32_MAX / seen_bucket_slots
                                              : static_cast<uint32_t>(n);
}

void
seen_init(seen_header *h, uint32_t buckets, seen_kind kind, int64_t now,
          uint64_t salt) noexcept
{
    std::memset(static_cast<void *>(h), 0, seen_table_bytes(buckets));

    h->magic = seen_magic;
    h->version = seen_version;
    h->kind = kind;
    h->buckets = buckets;
    /* expiry 0 marks a free slot, so now is at least 1 */
    h->epoch = now - 1;
    h->salt = salt;
}

bool
seen_valid(const seen_header *h) noexcept
{
    return h->magic == seen_magic && h->version == seen_version
           && h->buckets != 0;
}

void
seen_recount(seen_header *h, int64_t now) noexcept
{
    int64_t now_rel = relative(h, now);
    uint64_t n = static_cast<uint64_t>(h->buckets) * seen_bucket_slots;

    std::memset(h->counts, 0, sizeof(h->counts));

    for (uint64_t i = 0; i < n; i++) {
        seen_slot *s = &h->slots[i];

        if (live(*s, now_rel)) {
            count_up(h, owner_of(*s));

        } else if (expire_of(*s) != 0) {
            __atomic_store_n(&s->expire, 0u, __ATOMIC_RELEASE);
        }
    }
}

bool
seen_contains(seen_header *h, const unsigned char *digest, int64_t now) noexcept
{
    int64_t now_rel = relative(h, now);
    uint32_t a, b;

    buckets_of(h, digest, &a, &b);

    const uint32_t buckets[] = {a, b};

    for (uint32_t bucket : buckets) {
        const seen_slot *s = &h->slots[bucket * seen_bucket_slots];

        for (uint32_t i = 0; i < seen_bucket_slots; i++) {
            if (live(s[i], now_rel) && same_digest(s[i], digest)) {
                return true;
            }
        }
    }

    return false;
}

void
seen_prefetch(const seen_header *h, const unsigned char *digest) noexcept
{
    constexpr size_t line = 64;
    constexpr size_t bucket_bytes = seen_bucket_slots * sizeof(seen_slot);
    uint32_t a, b;

    buckets_of(h, digest, &a, &b);

    const uint32_t buckets[] = {a, b};

    for (uint32_t bucket : buckets) {
        auto start =
            reinterpret_cast<uintptr_t>(&h->slots[bucket * seen_bucket_slots]);

        /* every line the bucket touches, wherever it starts */
        for (uintptr_t at = start & ~(uintptr_t{line} - 1);
             at < start + bucket_bytes; at += line)
        {
            __builtin_prefetch(reinterpret_cast<const void *>(at));
        }
    }
}

seen_result
seen_add(seen_header *h, const unsigned char *digest, int64_t expire,
         uint32_t owner, uint64_t share, int64_t now) noexcept
{
    if (h->retired) {
        return seen_result::retired;
    }

    int64_t now_rel = relative(h, now);

    sweep(h, now_rel);

    return insert(h, digest, expire, owner < seen_owners ? owner : 0, share,
                  now_rel);
}

uint64_t
seen_counted(const seen_header *h, uint32_t owner) noexcept
{
    return h->counts[owner < seen_owners ? owner : 0];
}

uint64_t
seen_counted_total(const seen_header *h) noexcept
{
    return h->counts[total_row];
}

uint64_t
seen_capacity(const seen_header *h) noexcept
{
    return static_cast<uint64_t>(h->buckets) * seen_bucket_slots;
}

void
seen_get_stats(const seen_header *h, int64_t now, seen_stats *st) noexcept
{
    int64_t now_rel = relative(h, now);
    uint64_t n = seen_capacity(h);

    std::memset(st, 0, sizeof(*st));

    st->capacity = n;
    st->refused_full = h->refused_full;
    st->refused_share = h->refused_share;

    for (uint64_t i = 0; i < n; i++) {
        const seen_slot &s = h->slots[i];

        if (live(s, now_rel)) {
            st->entries++;
            st->owner_entries[owner_of(s)]++;
        }
    }
}

bool
seen_carry(const seen_header *from, seen_header *to, int64_t now,
           uint64_t *entries) noexcept
{
    int64_t now_rel = relative(from, now);
    uint64_t n = seen_capacity(from);
    bool fits = true;

    *entries = 0;

    for (uint64_t i = 0; i < n; i++) {
        const seen_slot &s = from->slots[i];

        if (!live(s, now_rel)) {
            continue;
        }

        ++*entries;

        if (fits
            && insert(to, s.digest, from->epoch + s.expire, owner_of(s), 0,
                      relative(to, now))
                   == seen_result::full)
        {
            fits = false;
        }
    }

    return fits;
}

} // namespace provision_x
