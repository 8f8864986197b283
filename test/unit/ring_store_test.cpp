/*
 * Crash consistency of the queue's ring, store by store: every state a
 * process killed inside an update can leave behind is tried.
 *
 * A SIGKILL stops a process between two instructions, and all it leaves
 * is the shared memory, so the states it can leave are the ring before
 * the update and the ring after each instruction that stored into it.
 * The test records exactly those: the ring's pages are made read-only,
 * each store faults, the handler lets that one instruction run (the
 * trap flag) and copies the ring.  The compiled code is what is tested,
 * with whatever order the compiler gave its stores.
 *
 * Each recorded state is then handed to the next holder (ring_enter,
 * which recovers) and must be the ring before or after the update, lease
 * by lease: the records not acknowledged are the old ones or the new
 * ones (a push all or none, an ack all or none); a lease is active with
 * all of its records or does not exist; a record is hidden by its old
 * lease or its new one; a delivery count is the old or the new.  A kill
 * inside that recovery must leave a state the next recovery completes
 * the same way.
 *
 * x86-64 Linux only (the trap flag); elsewhere the test is skipped.
 */

#include <csignal>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <sys/mman.h>
#include <vector>

#if defined(__x86_64__) && defined(__linux__)
#include <ucontext.h>
#define RING_STORE_TRACE 1
#endif

#include <gtest/gtest.h>

#include "core/ring.hpp"
#include "ring_test_util.hpp"

using namespace provision_x;
using namespace ring_test;

namespace {

constexpr size_t region_size = 16384; /* 4 pages: 32 slots, ~14 KB ring */
constexpr size_t max_states = 4096;

/* ---- the store tracer: state for the signal handlers ---- */

unsigned char *traced;     /* the ring's pages */
unsigned char *states;     /* max_states copies of them */
size_t nstates;            /* recorded so far */
bool overflow;             /* more stores than room */
struct sigaction old_segv; /* restored when tracing ends */
struct sigaction old_trap;

#ifdef RING_STORE_TRACE

constexpr greg_t trap_flag = 0x100;

void
on_store(int sig, siginfo_t *si, void *ctx)
{
    auto *addr = static_cast<unsigned char *>(si->si_addr);

    if (addr < traced || addr >= traced + region_size) {
        /* a real crash: let it happen */
        sigaction(SIGSEGV, &old_segv, nullptr);
        return;
    }

    /* let the faulting instruction store, then trap right after it */
    mprotect(traced, region_size, PROT_READ | PROT_WRITE);
    static_cast<ucontext_t *>(ctx)->uc_mcontext.gregs[REG_EFL] |= trap_flag;
}

void
on_stored(int sig, siginfo_t *si, void *ctx)
{
    static_cast<ucontext_t *>(ctx)->uc_mcontext.gregs[REG_EFL] &= ~trap_flag;

    if (nstates < max_states) {
        std::memcpy(states + nstates++ * region_size, traced, region_size);
    } else {
        overflow = true;
    }

    mprotect(traced, region_size, PROT_READ);
}

void
trace_begin()
{
    struct sigaction sa = {};

    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sa.sa_sigaction = on_store;
    sigaction(SIGSEGV, &sa, &old_segv);
    sa.sa_sigaction = on_stored;
    sigaction(SIGTRAP, &sa, &old_trap);

    nstates = 0;
    overflow = false;
    mprotect(traced, region_size, PROT_READ);
}

void
trace_end()
{
    mprotect(traced, region_size, PROT_READ | PROT_WRITE);
    sigaction(SIGSEGV, &old_segv, nullptr);
    sigaction(SIGTRAP, &old_trap, nullptr);
}

#endif

/* ---- what a state means to the queue's users ---- */

struct lease_view {
    uint64_t expire;
    uint32_t count;
    std::vector<std::string> records; /* those it hides, in order */

    bool operator==(const lease_view &o) const
    {
        return expire == o.expire && count == o.count && records == o.records;
    }
};

struct view {
    std::vector<std::string> records; /* not acknowledged, in order */
    std::map<std::string, std::string> hidden_by; /* lease id, or "" */
    std::map<std::string, uint32_t> deliveries;
    std::map<std::string, lease_view> leases; /* active, by id */
    uint64_t depth;
};

view
view_of(ring_header *h)
{
    view v;
    ring_slot *slot = slots_of(h);

    v.depth = h->depth;

    for (uint32_t i = 0; i < h->nslots; i++) {
        if (slot[i].state == ring_slot_active) {
            std::string id(reinterpret_cast<char *>(slot[i].id),
                           ring_lease_id_size);
            v.leases[id] = {slot[i].expire, slot[i].count, {}};
        }
    }

    uint64_t bad;
    bool whole = for_each_entry(
        h,
        [&](uint64_t, ring_rec *rec) {
            if (rec->state != ring_rec_ready) {
                return;
            }

            std::string bytes(reinterpret_cast<char *>(rec + 1), rec->len);
            std::string by;

            if (rec->slot < h->nslots
                && slot[rec->slot].state == ring_slot_active
                && slot[rec->slot].gen == rec->gen)
            {
                by.assign(reinterpret_cast<char *>(slot[rec->slot].id),
                          ring_lease_id_size);
                v.leases[by].records.push_back(bytes);
            }

            v.records.push_back(bytes);
            v.hidden_by[bytes] = by;
            v.deliveries[bytes] = rec->deliveries;
        },
        &bad);

    EXPECT_TRUE(whole) << "a damaged entry at " << bad;

    return v;
}

template <typename T>
bool
one_of(const std::map<std::string, T> &a, const std::map<std::string, T> &b,
       const std::string &key, const T &value)
{
    auto ia = a.find(key);
    auto ib = b.find(key);

    return (ia != a.end() && ia->second == value)
           || (ib != b.end() && ib->second == value);
}

/* r, a killed state once recovered, is before or after, lease by lease */
void
expect_before_or_after(const view &r, const view &before, const view &after,
                       uint64_t now, const char *op, size_t k)
{
    SCOPED_TRACE(std::string(op) + ", killed after store " + std::to_string(k));

    EXPECT_TRUE(r.records == before.records || r.records == after.records)
        << "the records are neither those before nor after";
    EXPECT_EQ(r.depth, r.records.size()) << "depth";

    for (const std::string &x : r.records) {
        const std::string &by = r.hidden_by.at(x);
        auto old = before.hidden_by.find(x);

        /* or visible: its old lease ran out by now (a lease or an ack
         * reaps first, each expiry an update of its own) */
        auto lease = old == before.hidden_by.end()
                         ? before.leases.end()
                         : before.leases.find(old->second);
        bool ended =
            lease != before.leases.end() && lease->second.expire <= now;

        EXPECT_TRUE(one_of(before.hidden_by, after.hidden_by, x, by)
                    || (by.empty() && ended))
            << "a record's lease is neither the old nor the new";
        EXPECT_TRUE(
            one_of(before.deliveries, after.deliveries, x, r.deliveries.at(x)))
            << "a delivery count is neither the old nor the new";
    }

    for (const auto &[id, lease] : r.leases) {
        EXPECT_TRUE(one_of(before.leases, after.leases, id, lease))
            << "a lease is active with some of its records only";
    }

    for (const auto &[id, lease] : before.leases) {
        auto it = after.leases.find(id);

        if (it != after.leases.end() && it->second == lease) {
            EXPECT_EQ(r.leases.count(id), 1u) << "a lease the update "
                                                 "did not touch is gone";
        }
    }
}

/* the next holder takes the lock: it recovers what the dead one left */
view
recovered(const unsigned char *state, int64_t pid, ring_recovery *rec)
{
    std::vector<uint64_t> copy(region_size / sizeof(uint64_t));
    auto *h = reinterpret_cast<ring_header *>(copy.data());

    std::memcpy(copy.data(), state, region_size);

    bool died = ring_enter(h, pid, rec);
    ring_leave(h);

    EXPECT_EQ(died, reinterpret_cast<const ring_header *>(state)->holder != 0);

    return view_of(h);
}

class store_harness {
public:
    store_harness()
    {
        traced = static_cast<unsigned char *>(
            mmap(nullptr, region_size, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
        states = static_cast<unsigned char *>(
            mmap(nullptr, max_states * region_size, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
        h_ = ring_init(traced, region_size);
    }

    ~store_harness()
    {
        munmap(traced, region_size);
        munmap(states, max_states * region_size);
    }

    ring_header *h() const
    {
        return h_;
    }

    /* runs op as a holder of the lock, every store recorded, then checks
     * every state a kill could have left */
    template <typename Op> void run(const char *name, uint64_t now, Op op);

    size_t states_checked = 0;
    size_t recoveries_checked = 0;

private:
    void check_recovery(const unsigned char *state, const char *name, size_t k);

    ring_header *h_;
};

template <typename Op>
void
store_harness::run(const char *name, uint64_t now, Op op)
{
    ring_recovery rec;
    view before = view_of(h_);

#ifdef RING_STORE_TRACE
    trace_begin();
#endif
    ring_enter(h_, 1, &rec);
    op();
    ring_leave(h_);
#ifdef RING_STORE_TRACE
    trace_end();
#endif

    ASSERT_FALSE(overflow) << name << ": more than " << max_states << " stores";

    view after = view_of(h_);
    std::vector<unsigned char> saved(states, states + nstates * region_size);
    size_t n = nstates;

    for (size_t k = 0; k < n; k++) {
        const unsigned char *state = saved.data() + k * region_size;
        view r = recovered(state, 2, &rec);

        EXPECT_FALSE(rec.damaged || rec.bounds_reset) << name << " " << k;
        expect_before_or_after(r, before, after, now, name, k);
        states_checked++;

        /* a kill inside the recovery of every state of an ack, and of
         * one state in eight of the others */
        if (std::strcmp(name, "ack") == 0 || k % 8 == 0) {
            check_recovery(state, name, k);
        }
    }
}

/* every state a kill inside the recovery of `state` leaves is completed
 * by the next recovery exactly as an uninterrupted one */
void
store_harness::check_recovery(const unsigned char *state, const char *name,
                              size_t k)
{
    if (reinterpret_cast<const ring_header *>(state)->holder == 0) {
        return;
    }

    ring_recovery rec;
    view whole = recovered(state, 2, &rec);
    std::vector<unsigned char> saved(traced, traced + region_size);

    std::memcpy(traced, state, region_size);

#ifdef RING_STORE_TRACE
    trace_begin();
#endif
    ring_enter(reinterpret_cast<ring_header *>(traced), 2, &rec);
#ifdef RING_STORE_TRACE
    trace_end();
#endif

    std::memcpy(traced, saved.data(), region_size);

    std::vector<unsigned char> partial(states, states + nstates * region_size);

    for (size_t j = 0; j < partial.size() / region_size; j++) {
        view r = recovered(partial.data() + j * region_size, 3, &rec);

        EXPECT_TRUE(r.records == whole.records && r.hidden_by == whole.hidden_by
                    && r.deliveries == whole.deliveries
                    && r.leases == whole.leases && r.depth == whole.depth)
            << name << ", killed after store " << k
            << ", the recovery killed after store " << j;
        recoveries_checked++;
    }
}

} // namespace

TEST(RingEveryStore, AKillAfterAnyStoreLeavesTheOldStateOrTheNew)
{
#ifndef RING_STORE_TRACE
    GTEST_SKIP() << "store tracing needs x86-64 Linux";
#else
    store_harness t;
    ASSERT_NE(t.h(), nullptr);

    std::mt19937 g(20240917);
    std::vector<std::string> ids;
    uint64_t now = 1000, seq = 0;
    int pads = 0;

    for (int step = 0; step < 1000 && !::testing::Test::HasFailure(); step++) {
        now += g() % 40;

        switch (g() % 6) {
        case 0:
        case 1: {
            std::vector<std::string> batch;
            for (unsigned i = 0; i < 1 + g() % 4; i++, seq++) {
                batch.push_back(std::to_string(seq) + ":"
                                + std::string(g() % 600, 'a' + seq % 26));
            }
            uint64_t tail = t.h()->tail;
            t.run("push", 0, [&] { (void) push(t.h(), batch, 0); });
            pads += t.h()->tail / t.h()->cap != tail / t.h()->cap;
            break;
        }

        case 2:
        case 3: {
            lease_out l;
            unsigned max = 1 + g() % 5;
            uint64_t timeout = 10 + g() % 200;
            t.run("lease", now, [&] { l = lease(t.h(), now, timeout, max); });
            if (l.rc == ring_lease_result::ready) {
                ids.push_back(l.id);
            }
            break;
        }

        default:
            /* mostly the last lease; sometimes an older one, which may
             * have run out, been acknowledged or lost its slot */
            if (!ids.empty()) {
                std::string id = g() % 4 ? ids.back() : ids[g() % ids.size()];
                t.run("ack", now, [&] { (void) ack(t.h(), id, now); });
            }
            break;
        }
    }

    EXPECT_GT(t.h()->tail, 3 * t.h()->cap) << "the ring went round";
    EXPECT_GT(pads, 3) << "pushes crossed the end of the ring";
    EXPECT_GT(t.states_checked, 10000u);
    EXPECT_GT(t.recoveries_checked, 10000u);
    std::printf("[ stores   ] %zu states after a store checked, %zu states "
                "of a killed recovery; %llu laps, %d pads\n",
                t.states_checked, t.recoveries_checked,
                static_cast<unsigned long long>(t.h()->tail / t.h()->cap),
                pads);
#endif
}
