/*
 * Crash-consistency harness for the queue zone (t/038-queue-crash.t).
 *
 * A child process runs random pushes, leases and acks against a zone in
 * shared memory; the parent kills it with SIGKILL at a random moment,
 * then, like the next nginx worker to take the lock, operates on the zone
 * and checks it against a journal the children keep in shared memory:
 *
 *   - the ring parses from head to tail, and depth counts its records;
 *   - every push that returned OK is still there, or was acknowledged;
 *   - a push that was cut short left all of its records or none;
 *   - no record is there twice, and no acknowledged record comes back.
 *
 * The zone code is the module's own (ngx_http_provision_x_queue_zone.cpp,
 * with ngx_http_provision_x_zones.cpp);
 * the few nginx functions it calls are replaced below.  The lock is a
 * no-op: one process at a time touches the zone, and a SIGKILL inside a
 * critical section is exactly what the holder pid in the header reveals.
 *
 * usage: crash ROUNDS SEED
 */

#include "ngx_http_provision_x_queue_zone.hpp"

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sys/mman.h>
#include <sys/wait.h>
#include <vector>

/* ---- the nginx the zone code links against ---- */

static ngx_time_t harness_time;
static ngx_cycle_t harness_cycle;

ngx_pid_t ngx_pid;
volatile ngx_msec_t ngx_current_msec;
volatile ngx_time_t *ngx_cached_time = &harness_time;
volatile ngx_cycle_t *ngx_cycle = &harness_cycle;
ngx_uint_t ngx_pagesize = 4096;
ngx_module_t ngx_http_provision_x_queue_module;

namespace {

constexpr uint64_t max_seq = 1 << 22;

enum : uint8_t { none = 0, intent, ok, refused };

/* What the children did, as far as they got to write it down. */
struct journal_t {
    uint64_t clock;
    uint64_t next_seq;
    uint64_t crit;
    uint64_t alerts;
    uint8_t pushed[max_seq];
    uint8_t acked[max_seq];
    uint32_t group[max_seq]; /* first seq of the push */
    uint8_t group_size[max_seq];
};

journal_t *journal;

} // namespace

extern "C" {

void
ngx_shmtx_lock(ngx_shmtx_t *mtx)
{
}

void
ngx_shmtx_unlock(ngx_shmtx_t *mtx)
{
}

void
ngx_log_error_core(ngx_uint_t level, ngx_log_t *log, ngx_err_t err,
                   const char *fmt, ...)
{
    /* an alert announces a repair; crit or worse means a damaged zone */
    if (level == NGX_LOG_ALERT) {
        journal->alerts++;
    } else if (level <= NGX_LOG_CRIT) {
        journal->crit++;
        std::fprintf(stderr, "crash: [crit] %s\n", fmt);
    }
}

void *
ngx_slab_alloc(ngx_slab_pool_t *pool, size_t size)
{
    /* a bump allocator over [start, end) */
    u_char *p = ngx_align_ptr(pool->start, 8);

    if (p + size > pool->end) {
        return NULL;
    }

    pool->start = p + size;
    return p;
}

u_char *
ngx_sprintf(u_char *buf, const char *fmt, ...)
{
    *buf = '\0';
    return buf;
}

u_char *
ngx_hex_dump(u_char *dst, u_char *src, size_t len)
{
    static const char hex[] = "0123456789abcdef";

    while (len--) {
        *dst++ = hex[*src >> 4];
        *dst++ = hex[*src++ & 0xf];
    }

    return dst;
}

ngx_int_t
ngx_hextoi(u_char *line, size_t n)
{
    ngx_int_t value = 0;

    for (; n--; line++) {
        u_char c = *line;

        if (c >= '0' && c <= '9') {
            value = value * 16 + (c - '0');
        } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
            value = value * 16 + ((c | 0x20) - 'a' + 10);
        } else {
            return NGX_ERROR;
        }
    }

    return value;
}

void *
ngx_palloc(ngx_pool_t *pool, size_t size)
{
    return std::malloc(size);
}

void *
ngx_pnalloc(ngx_pool_t *pool, size_t size)
{
    return std::malloc(size);
}

} // extern "C"

ngx_int_t
ngx_http_provision_x_queue_restore(ngx_http_provision_x_queue_ctx_t *ctx,
                                   ngx_log_t *log) noexcept
{
    return NGX_OK;
}

/* ---- the harness ---- */

namespace {

using rec_t = ngx_http_provision_x_queue_rec_t;
using sh_t = ngx_http_provision_x_queue_sh_t;
using slot_t = ngx_http_provision_x_queue_slot_t;

ngx_log_t harness_log;
ngx_shm_zone_t shm_zone;
ngx_http_provision_x_queue_ctx_t ctx;

struct open_lease {
    ngx_str_t id;
    std::vector<uint64_t> seqs;
};

void
tick() noexcept
{
    journal->clock += 1 + std::rand() % 3;
    ngx_current_msec = journal->clock;
    harness_time.sec = journal->clock / 1000;
}

/* "seq=<n>;" then padding: records of many sizes, so the ring wraps */
ngx_str_t
make_record(uint64_t seq) noexcept
{
    static char buf[512];
    int n = std::snprintf(buf, sizeof(buf), "seq=%llu;",
                          static_cast<unsigned long long>(seq));
    int len = n + std::rand() % 400;

    for (int i = n; i < len; i++) {
        buf[i] = 'a' + i % 26;
    }

    ngx_str_t s;
    s.data = reinterpret_cast<u_char *>(buf);
    s.len = len;
    return s;
}

uint64_t
seq_of(const u_char *p) noexcept
{
    return std::strtoull(reinterpret_cast<const char *>(p) + 4, NULL, 10);
}

void
do_push() noexcept
{
    int k = 1 + std::rand() % 4;
    uint64_t first = journal->next_seq;
    ngx_str_t records[4];
    static char bufs[4][512];

    if (first + k >= max_seq) {
        return;
    }

    journal->next_seq += k;

    for (int i = 0; i < k; i++) {
        ngx_str_t r = make_record(first + i);
        ngx_memcpy(bufs[i], r.data, r.len);
        records[i].data = reinterpret_cast<u_char *>(bufs[i]);
        records[i].len = r.len;
        journal->group[first + i] = static_cast<uint32_t>(first);
        journal->group_size[first + i] = static_cast<uint8_t>(k);
        journal->pushed[first + i] = intent;
    }

    auto rc =
        ngx_http_provision_x_queue_push(&shm_zone, records, k, &harness_log);

    for (int i = 0; i < k; i++) {
        journal->pushed[first + i] =
            rc == NGX_HTTP_PROVISION_X_QUEUE_OK ? ok : refused;
    }
}

void
do_lease(std::vector<open_lease> &leases) noexcept
{
    ngx_http_provision_x_queue_lease_t out;
    ngx_msec_t timeout = 5 + std::rand() % 60;
    uint64_t found[6];

    if (ngx_http_provision_x_queue_lease(&ctx, 1 + std::rand() % 6, found,
                                         timeout, NULL, &out, &harness_log) !=
        NGX_HTTP_PROVISION_X_QUEUE_LEASED) {
        return;
    }

    open_lease l;
    l.id.data = static_cast<u_char *>(std::malloc(sizeof(out.id)));
    l.id.len = sizeof(out.id);
    ngx_memcpy(l.id.data, out.id, sizeof(out.id));

    for (u_char *p = out.body.data; p < out.body.data + out.body.len;) {
        l.seqs.push_back(seq_of(p));
        p = static_cast<u_char *>(
                std::memchr(p, '\n', out.body.data + out.body.len - p)) +
            1;
    }

    leases.push_back(std::move(l));

    if (leases.size() > 16) {
        leases.erase(leases.begin()); /* left to expire */
    }
}

void
do_ack(std::vector<open_lease> &leases) noexcept
{
    if (leases.empty()) {
        return;
    }

    size_t i = std::rand() % leases.size();
    open_lease l = std::move(leases[i]);
    leases.erase(leases.begin() + i);

    u_char id[NGX_HTTP_PROVISION_X_QUEUE_LEASE_ID_LEN];
    if (ngx_http_provision_x_queue_parse_id(&l.id, id) != NGX_OK) {
        std::abort();
    }

    for (uint64_t s : l.seqs) {
        if (journal->acked[s] != ok) {
            journal->acked[s] = intent;
        }
    }

    ngx_uint_t count;
    auto rc = ngx_http_provision_x_queue_ack(&ctx, id, &count);

    for (uint64_t s : l.seqs) {
        if (rc == NGX_HTTP_PROVISION_X_QUEUE_ACKED) {
            journal->acked[s] = ok;
        } else if (journal->acked[s] == intent) {
            journal->acked[s] = none;
        }
    }

    std::free(l.id.data);
}

[[noreturn]] void
child(unsigned seed) noexcept
{
    std::vector<open_lease> leases;

    ngx_pid = getpid();
    std::srand(seed);

    for (;;) {
        tick();

        int r = std::rand() % 10;

        if (r < 5) {
            do_push();
        } else if (r < 8) {
            do_lease(leases);
        } else {
            do_ack(leases);
        }
    }
}

int failures;

void
fail(const char *what, uint64_t seq) noexcept
{
    if (failures++ < 20) {
        std::fprintf(stderr, "crash: %s (seq %llu)\n", what,
                     static_cast<unsigned long long>(seq));
    }
}

/* An independent walk of the ring, against the journal. */
void
check() noexcept
{
    /* taking the lock repairs what a dead holder left */
    ngx_http_provision_x_queue_stats_t st;
    ngx_http_provision_x_queue_stats(&shm_zone, &st);

    sh_t *sh = ctx.sh;
    auto *ring = reinterpret_cast<u_char *>(reinterpret_cast<slot_t *>(sh + 1) +
                                            sh->nslots);
    std::vector<uint8_t> present(journal->next_seq);
    uint64_t depth = 0;

    if (sh->holder != 0) {
        fail("the lock holder is still set", 0);
    }

    if (sh->head > sh->tail || sh->tail - sh->head > sh->cap) {
        fail("head and tail are inconsistent", sh->head);
        return;
    }

    for (uint64_t pos = sh->head; pos < sh->tail;) {
        uint64_t room = sh->cap - pos % sh->cap;

        if (room < sizeof(rec_t)) {
            pos += room;
            continue;
        }

        auto *rec = reinterpret_cast<rec_t *>(ring + pos % sh->cap);

        if (rec->size < sizeof(rec_t) || rec->size > room ||
            rec->size % 8 != 0 || pos + rec->size > sh->tail) {
            fail("a damaged entry", pos);
            return;
        }

        if (rec->state == NGX_HTTP_PROVISION_X_QUEUE_REC_READY) {
            uint64_t seq = seq_of(reinterpret_cast<u_char *>(rec + 1));

            depth++;

            if (seq >= journal->next_seq || journal->pushed[seq] == none ||
                journal->pushed[seq] == refused) {
                fail("a record nobody pushed", seq);
            } else if (present[seq]++) {
                fail("a record twice", seq);
            } else if (journal->acked[seq] == ok) {
                fail("an acknowledged record is back", seq);
            }
        }

        pos += rec->size;
    }

    if (depth != sh->depth) {
        fail("depth does not count the records", depth);
    }

    for (uint64_t seq = 0; seq < journal->next_seq; seq++) {
        if (journal->pushed[seq] == ok && !present[seq] &&
            journal->acked[seq] == none) {
            fail("an accepted record is lost", seq);
        }

        /* a push cut short: all of it or none of it */
        if (journal->pushed[seq] == intent && journal->group[seq] == seq) {
            int k = journal->group_size[seq], n = 0;
            bool touched = false;

            for (int i = 0; i < k; i++) {
                n += present[seq + i];
                touched |= journal->acked[seq + i] != none;
            }

            if (!touched && n != 0 && n != k) {
                fail("a push was half enqueued", seq);
            }
        }
    }
}

} // namespace

int
main(int argc, char **argv)
{
    int rounds = argc > 1 ? std::atoi(argv[1]) : 1000;
    unsigned seed = argc > 2 ? std::atoi(argv[2]) : 1;

    journal = static_cast<journal_t *>(mmap(NULL, sizeof(journal_t),
                                            PROT_READ | PROT_WRITE,
                                            MAP_SHARED | MAP_ANONYMOUS, -1, 0));

    size_t size = 64 * 1024;
    auto *zone = static_cast<u_char *>(mmap(NULL, size, PROT_READ | PROT_WRITE,
                                            MAP_SHARED | MAP_ANONYMOUS, -1, 0));

    if (journal == MAP_FAILED || zone == MAP_FAILED) {
        std::perror("mmap");
        return 2;
    }

    auto *pool = reinterpret_cast<ngx_slab_pool_t *>(zone);
    pool->start = zone + sizeof(ngx_slab_pool_t);
    pool->end = zone + size;
    pool->pfree = (size - ngx_pagesize) / ngx_pagesize;

    harness_log.log_level = NGX_LOG_DEBUG;
    harness_cycle.log = &harness_log;

    ngx_str_set(&shm_zone.shm.name, "crash");
    shm_zone.shm.addr = zone;
    shm_zone.shm.size = size;
    shm_zone.shm.log = &harness_log;
    shm_zone.data = &ctx;
    ctx.kind = NGX_HTTP_PROVISION_X_ZONE_QUEUE;
    ctx.shm_zone = &shm_zone;

    if (ngx_http_provision_x_queue_init_zone(&shm_zone, NULL) != NGX_OK) {
        std::fprintf(stderr, "crash: init_zone failed\n");
        return 2;
    }

    std::srand(seed);

    int in_lock = 0;

    for (int round = 0; round < rounds && failures == 0; round++) {
        pid_t pid = fork();

        if (pid == 0) {
            child(seed * 7919 + round);
        }

        usleep(100 + std::rand() % 1500);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);

        ngx_pid = getpid();

        if (ctx.sh->holder != 0) {
            in_lock++;
        }

        check();

        /* what a surviving worker does next: one of each */
        tick();
        do_push();
        std::vector<open_lease> leases;
        do_lease(leases);
        do_ack(leases);
        check();
    }

    /* drain: everything accepted and not acknowledged comes out */
    journal->clock += 100000;
    ngx_current_msec = journal->clock;

    std::vector<open_lease> leases;

    for (;;) {
        do_lease(leases);

        if (leases.empty()) {
            break;
        }

        while (!leases.empty()) {
            do_ack(leases);
        }
    }

    check();

    if (journal->crit) {
        fail("the zone was found damaged", journal->crit);
    }

    if (ctx.sh->depth != 0) {
        fail("records left after the drain", ctx.sh->depth);
    }

    std::printf("rounds %d, killed inside the lock %d, repairs %llu, "
                "records %llu, failures %d\n",
                rounds, in_lock,
                static_cast<unsigned long long>(journal->alerts),
                static_cast<unsigned long long>(journal->next_seq), failures);

    return failures ? 1 : 0;
}
