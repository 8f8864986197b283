/*
 * Crash consistency of the queue's ring, with real processes: a child
 * runs random pushes, leases and acks against a ring in shared memory,
 * taking the "lock" as the glue does (ring_enter/ring_leave); the parent
 * SIGKILLs it at a random moment, then, like the next nginx worker to
 * take the lock, operates on the ring and checks it against a journal
 * the children keep in shared memory:
 *
 *   - the ring parses from head to tail, and depth counts its records;
 *   - every push that returned ok is still there, or was acknowledged;
 *   - a push that was cut short left all of its records or none;
 *   - no record is there twice, and no acknowledged record comes back.
 *
 * One process at a time touches the ring (the parent waits for the
 * child's death), so no mutex is needed: a SIGKILL inside a critical
 * section is exactly what the holder pid in the header reveals.
 */

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>

#include "core/ring.hpp"
#include "ring_test_util.hpp"

using namespace provision_x;
using namespace ring_test;

namespace {

constexpr uint64_t max_seq = 1 << 23;
constexpr size_t region_size = 64 * 1024;
constexpr uint64_t ops_max = 20000; /* then the child waits for its kill */

enum : uint8_t { none = 0, intent, ok, refused };

/* What the children did, as far as they got to write it down. */
struct journal_t {
    uint64_t clock;
    uint64_t next_seq;
    uint64_t repairs;
    uint64_t damaged;
    uint64_t ops; /* the child's operations so far */
    uint8_t pushed[max_seq];
    uint8_t acked[max_seq];
    uint32_t group[max_seq]; /* first seq of the push */
    uint8_t group_size[max_seq];
};

class crash_harness {
public:
    crash_harness()
    {
        journal_ = static_cast<journal_t *>(
            mmap(nullptr, sizeof(journal_t), PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_ANONYMOUS, -1, 0));
        region_ = mmap(nullptr, region_size, PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

        if (journal_ != MAP_FAILED && region_ != MAP_FAILED) {
            h_ = ring_init(region_, region_size);
        }
    }

    ~crash_harness()
    {
        if (journal_ != MAP_FAILED) {
            munmap(journal_, sizeof(journal_t));
        }

        if (region_ != MAP_FAILED) {
            munmap(region_, region_size);
        }
    }

    bool ready() const
    {
        return h_ != nullptr;
    }

    /* one kill; returns whether it landed inside the lock */
    bool round(unsigned seed);

    void drain();

    /* An independent walk of the ring, against the journal. */
    void check();

    uint64_t records() const
    {
        return journal_->next_seq;
    }

    uint64_t repairs() const
    {
        return journal_->repairs;
    }

    uint64_t damaged() const
    {
        return journal_->damaged;
    }

    uint64_t depth() const
    {
        return h_->depth;
    }

private:
    struct open_lease {
        std::string id;
        std::vector<uint64_t> seqs;
    };

    [[noreturn]] void child(unsigned seed);
    void tick();
    void enter();
    void leave();
    void do_push();
    void do_lease(std::vector<open_lease> &leases);
    void do_ack(std::vector<open_lease> &leases);
    void fail(const char *what, uint64_t seq);

    journal_t *journal_;
    void *region_;
    ring_header *h_ = nullptr;
    uint64_t checked_below_ = 0; /* no seq below it is in the ring */
};

void
crash_harness::tick()
{
    journal_->clock += 1 + std::rand() % 3;
}

/* what the glue's lock does after ngx_shmtx_lock() */
void
crash_harness::enter()
{
    ring_recovery r;

    if (ring_enter(h_, getpid(), &r)) {
        journal_->repairs++;
        journal_->damaged += r.damaged || r.bounds_reset;
    }
}

void
crash_harness::leave()
{
    ring_leave(h_);
}

/* "seq=<n>;" then padding: records of many sizes, so the ring wraps */
std::string
make_record(uint64_t seq)
{
    static const std::string padding = [] {
        std::string p(400, ' ');
        for (size_t i = 0; i < p.size(); i++) {
            p[i] = 'a' + i % 26;
        }
        return p;
    }();

    return "seq=" + std::to_string(seq) + ";"
           + padding.substr(0, std::rand() % padding.size());
}

uint64_t
seq_of(const char *p)
{
    return std::strtoull(p + 4, nullptr, 10);
}

void
crash_harness::do_push()
{
    int k = 1 + std::rand() % 4;
    uint64_t first = journal_->next_seq;
    std::vector<std::string> batch;

    if (first + k >= max_seq) {
        return;
    }

    journal_->next_seq += k;

    for (int i = 0; i < k; i++) {
        batch.push_back(make_record(first + i));
        journal_->group[first + i] = static_cast<uint32_t>(first);
        journal_->group_size[first + i] = static_cast<uint8_t>(k);
        journal_->pushed[first + i] = intent;
    }

    enter();
    ring_push_result rc = push(h_, batch, journal_->clock / 1000);
    leave();

    for (int i = 0; i < k; i++) {
        journal_->pushed[first + i] = rc == ring_push_result::ok ? ok : refused;
    }
}

void
crash_harness::do_lease(std::vector<open_lease> &leases)
{
    uint64_t timeout = 5 + std::rand() % 60;

    enter();
    lease_out out = lease(h_, journal_->clock, timeout, 1 + std::rand() % 6,
                          static_cast<unsigned char>(std::rand()));
    leave();

    if (out.rc != ring_lease_result::ready) {
        return;
    }

    open_lease l;
    l.id = out.id;
    for (const std::string &rec : out.records) {
        l.seqs.push_back(seq_of(rec.c_str()));
    }

    leases.push_back(std::move(l));

    if (leases.size() > 16) {
        leases.erase(leases.begin()); /* left to expire */
    }
}

void
crash_harness::do_ack(std::vector<open_lease> &leases)
{
    if (leases.empty()) {
        return;
    }

    size_t i = std::rand() % leases.size();
    open_lease l = std::move(leases[i]);
    leases.erase(leases.begin() + i);

    for (uint64_t s : l.seqs) {
        if (journal_->acked[s] != ok) {
            journal_->acked[s] = intent;
        }
    }

    enter();
    ring_ack_result rc = ack(h_, l.id, journal_->clock);
    leave();

    for (uint64_t s : l.seqs) {
        if (rc == ring_ack_result::acked) {
            journal_->acked[s] = ok;
        } else if (journal_->acked[s] == intent) {
            journal_->acked[s] = none;
        }
    }
}

void
crash_harness::child(unsigned seed)
{
    std::vector<open_lease> leases;

    std::srand(seed);

    for (;;) {
        /* a parent the machine's load holds up finds the child here */
        if (__atomic_add_fetch(&journal_->ops, 1, __ATOMIC_RELEASE) > ops_max) {
            pause();
        }

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

bool
crash_harness::round(unsigned seed)
{
    journal_->ops = 0;

    pid_t pid = fork();

    if (pid == 0) {
        child(seed);
    }

    usleep(50 + std::rand() % 400);

    /*
     * Every other kill aims at the lock: it lets the child run until it
     * is caught holding it (a child preempted inside, on a busy machine),
     * so many kills land inside an update.
     */
    if (std::rand() % 2) {
        while (__atomic_load_n(&h_->holder, __ATOMIC_ACQUIRE) == 0
               && __atomic_load_n(&journal_->ops, __ATOMIC_ACQUIRE) < ops_max)
        {
            sched_yield();
        }
    }

    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);

    bool in_lock = h_->holder != 0;

    check();

    /* what a surviving worker does next: one of each */
    std::vector<open_lease> leases;
    tick();
    do_push();
    do_lease(leases);
    do_ack(leases);
    check();

    return in_lock;
}

/* drain: everything accepted and not acknowledged comes out */
void
crash_harness::drain()
{
    std::vector<open_lease> leases;

    journal_->clock += 100000;

    for (;;) {
        do_lease(leases);

        if (leases.empty()) {
            break;
        }

        while (!leases.empty()) {
            do_ack(leases);
        }
    }
}

void
crash_harness::fail(const char *what, uint64_t seq)
{
    ADD_FAILURE() << what << " (seq " << seq << ")";
}

void
crash_harness::check()
{
    /* taking the lock repairs what a dead holder left */
    enter();
    leave();

    if (h_->holder != 0) {
        fail("the lock holder is still set", 0);
    }

    if (h_->head > h_->tail || h_->tail - h_->head > h_->cap) {
        fail("head and tail are inconsistent", h_->head);
        return;
    }

    /* seqs below checked_below_ left the ring for good */
    uint64_t base = checked_below_;
    std::vector<uint8_t> present(journal_->next_seq - base);
    uint64_t depth = 0;

    uint64_t bad;
    bool whole = for_each_entry(
        h_,
        [&](uint64_t, ring_rec *rec) {
            if (rec->state != ring_rec_ready) {
                return;
            }

            uint64_t seq = seq_of(reinterpret_cast<const char *>(rec + 1));

            depth++;

            if (seq >= journal_->next_seq || journal_->pushed[seq] == none
                || journal_->pushed[seq] == refused)
            {
                fail("a record nobody pushed", seq);
            } else if (journal_->acked[seq] == ok) {
                fail("an acknowledged record is back", seq);
            } else if (seq < base) {
                fail("a record that had left the ring is back", seq);
            } else if (present[seq - base]++) {
                fail("a record twice", seq);
            }
        },
        &bad);

    if (!whole) {
        fail("a damaged entry", bad);
        return;
    }

    if (depth != h_->depth) {
        fail("depth does not count the records", depth);
    }

    bool settled = true;

    for (uint64_t seq = checked_below_; seq < journal_->next_seq; seq++) {
        uint8_t pushed = journal_->pushed[seq];
        uint8_t acked = journal_->acked[seq];

        if (pushed == ok && !present[seq - base] && acked == none) {
            fail("an accepted record is lost", seq);
        }

        /* a push cut short: all of it or none of it */
        if (pushed == intent && journal_->group[seq] == seq) {
            int k = journal_->group_size[seq], n = 0;
            bool touched = false;

            for (int i = 0; i < k; i++) {
                n += present[seq + i - base];
                touched |= journal_->acked[seq + i] != none;
            }

            if (!touched && n != 0 && n != k) {
                fail("a push was half enqueued", seq);
            }
        }

        /*
         * Records enter the ring only while their push runs, and every
         * push below next_seq has returned or died: one that is not
         * there now never is again (the walk above would catch it).
         */
        settled = settled && !present[seq - base];
        if (settled) {
            checked_below_ = seq + 1;
        }
    }
}

void
run(unsigned seed, int rounds)
{
    crash_harness harness;
    ASSERT_TRUE(harness.ready());

    std::srand(seed);

    int in_lock = 0;

    for (int round = 0; round < rounds; round++) {
        in_lock += harness.round(seed * 7919 + round);

        if (::testing::Test::HasFailure()) {
            FAIL() << "round " << round << " of seed " << seed;
        }
    }

    harness.drain();
    harness.check();

    EXPECT_EQ(harness.damaged(), 0u) << "the ring was found damaged";
    EXPECT_EQ(harness.depth(), 0u) << "records left after the drain";

    /* the kills must have tested something */
    EXPECT_GE(in_lock, rounds / 20) << "kills inside the lock";
    EXPECT_EQ(harness.repairs(), static_cast<uint64_t>(in_lock));
    EXPECT_GT(harness.records(), 100u * rounds);

    std::printf("[ crash    ] seed %u: %d kills, %d inside the lock, "
                "%llu records\n",
                seed, rounds, in_lock,
                static_cast<unsigned long long>(harness.records()));
}

/* RING_CRASH_ROUNDS scales the run (make unit: 1000 kills per seed) */
int
rounds()
{
    const char *env = std::getenv("RING_CRASH_ROUNDS");
    return env != nullptr ? std::atoi(env) : 1000;
}

} // namespace

TEST(RingCrash, SigkillAnywhereLosesNothingSeed1)
{
    run(1, rounds());
}

TEST(RingCrash, SigkillAnywhereLosesNothingSeed2)
{
    run(2, rounds());
}

TEST(RingCrash, SigkillAnywhereLosesNothingSeed3)
{
    run(3, rounds());
}
