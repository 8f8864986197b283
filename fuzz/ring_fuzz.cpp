// libFuzzer harness: the queue's byte ring against a model.  The input is
// a ring size and a sequence of operations (push, lease, ack, a forged
// ack, time passing, a recovery, a resize); after each one the ring must
// agree with a plain model of what a queue with leases does:
//
//   - the records not acknowledged, in order, are the model's;
//   - a lease gets the first visible records, in order, and says how many
//     were delivered before; it is refused for want of a slot only when
//     every slot holds an unexpired lease;
//   - an ack answers acked (again, for a repeated one), expired or
//     unknown as the model's lease says, and removes exactly its records;
//   - an empty ring takes any push of at most half its capacity, and a
//     push is never larger than the ring;
//   - depth, leased and the counters match; recovering a consistent ring
//     changes nothing; a resize carries every record (leases end) or
//     leaves the old ring as it was.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include <fuzzer/FuzzedDataProvider.h>

#include "../test/unit/ring_test_util.hpp"
#include "core/ring.hpp"

using namespace provision_x;
using ring_test::string_at;

namespace {

void
check(bool ok)
{
    if (!ok) {
        __builtin_trap();
    }
}

struct model_record {
    uint64_t seq;
    std::string bytes;
    uint32_t deliveries;
    std::string lease; /* id of its last lease, or empty */
};

enum class lease_state { active, acked, expired };

struct model_lease {
    uint32_t slot;
    std::vector<uint64_t> seqs;
    uint64_t expire;
    lease_state state;
};

class model {
public:
    std::deque<model_record> records; /* not acknowledged, in order */
    std::map<std::string, model_lease> leases;
    std::map<uint32_t, std::string> slot_lease; /* the last lease of each */
    uint64_t enqueued = 0;
    uint64_t leased_total = 0;
    uint64_t acknowledged = 0;
    uint64_t redelivered = 0;
    uint64_t refused_full = 0;

    /* what the ring's reap does at `now` */
    void reap(uint64_t now)
    {
        for (auto &[id, l] : leases) {
            if (l.state == lease_state::active && l.expire <= now) {
                l.state = lease_state::expired;
            }
        }
    }

    bool visible(const model_record &r) const
    {
        if (r.lease.empty()) {
            return true;
        }

        return leases.at(r.lease).state != lease_state::active;
    }

    size_t active() const
    {
        size_t n = 0;
        for (const auto &[id, l] : leases) {
            n += l.state == lease_state::active;
        }
        return n;
    }

    uint64_t leased_at(uint64_t now) const
    {
        uint64_t n = 0;
        for (const auto &[id, l] : leases) {
            if (l.state == lease_state::active && l.expire > now) {
                n += l.seqs.size();
            }
        }
        return n;
    }
};

uint64_t
entry(size_t len)
{
    return (sizeof(ring_rec) + len + 7) / 8 * 8;
}

/* walks the ring against the model's records, in place */
struct walk_state {
    const std::deque<model_record> *records;
    size_t next;
};

bool
same_record(void *data, const ring_rec *rec,
            const unsigned char *bytes) noexcept
{
    auto *w = static_cast<walk_state *>(data);

    if (w->next >= w->records->size()) {
        return false;
    }

    const std::string &want = (*w->records)[w->next++].bytes;

    return rec->len == want.size()
           && std::memcmp(bytes, want.data(), want.size()) == 0;
}

class harness {
public:
    harness(FuzzedDataProvider &in, size_t size)
        : in_(in), mem_(size / 8), h_(ring_init(mem_.data(), size))
    {
    }

    bool ready() const
    {
        return h_ != nullptr;
    }

    void step();

    void finish()
    {
        agree(true);
    }

private:
    void push();
    void lease();
    void ack(const std::string &id);
    void ack_known();
    void ack_forged();
    void recover();
    void resize();

    /* the ring agrees with the model */
    void agree(bool full = false);

    FuzzedDataProvider &in_;
    std::vector<uint64_t> mem_;
    ring_header *h_;
    model m_;
    uint64_t now_ = 1000;
    uint64_t seq_ = 0;
    uint64_t random_ = 0;
    uint64_t steps_ = 0;
};

void
harness::push()
{
    size_t n = in_.ConsumeIntegralInRange<size_t>(1, 8);
    std::vector<std::string> batch;
    uint64_t total = 0;

    for (size_t i = 0; i < n; i++) {
        size_t len = in_.ConsumeIntegralInRange<size_t>(0, 1500);
        std::string r = std::to_string(seq_ + i) + ":";

        r.resize(len < r.size() ? r.size() : len, 'a' + (seq_ + i) % 26);
        total += entry(r.size());
        batch.push_back(std::move(r));
    }

    bool empty = m_.records.empty();

    switch (ring_push(h_, {batch.data(), batch.size(), string_at},
                      static_cast<int64_t>(now_ / 1000)))
    {
    case ring_push_result::ok:
        for (std::string &r : batch) {
            m_.records.push_back({seq_++, std::move(r), 0, ""});
        }
        m_.enqueued += n;
        break;

    case ring_push_result::full:
        check(total <= h_->cap);
        /* no pad can waste half the ring of an empty one */
        check(!empty || total > h_->cap / 2);
        m_.refused_full++;
        break;

    case ring_push_result::too_large:
        check(total > h_->cap);
        break;

    case ring_push_result::retired:
        check(false);
    }
}

void
harness::lease()
{
    size_t max = in_.ConsumeIntegralInRange<size_t>(1, 12);
    uint64_t timeout = in_.ConsumeIntegralInRange<uint64_t>(1, 5000);
    std::vector<uint64_t> found(max);
    ring_lease_plan plan;

    m_.reap(now_);

    std::vector<model_record *> want;
    for (model_record &r : m_.records) {
        if (want.size() < max && m_.visible(r)) {
            want.push_back(&r);
        }
    }

    ring_lease_result rc =
        ring_lease_prepare(h_, now_, found.data(), max, &plan);

    if (want.empty()) {
        check(rc == ring_lease_result::empty);
        return;
    }

    if (m_.active() == h_->nslots) {
        check(rc == ring_lease_result::no_slot_free);
        return;
    }

    check(rc == ring_lease_result::ready);
    check(plan.count == want.size());

    unsigned char random[ring_lease_random_size] = {};
    random_++;
    std::memcpy(random, &random_, sizeof(random_));

    std::string body(plan.body_len, '\0');
    ring_leased out;

    ring_commit_lease(h_, plan, found.data(), now_ + timeout, random,
                      reinterpret_cast<unsigned char *>(body.data()), &out);

    std::string id(reinterpret_cast<const char *>(out.id), sizeof(out.id));
    std::string expected;
    size_t again = 0;
    model_lease l{plan.slot, {}, now_ + timeout, lease_state::active};

    for (model_record *r : want) {
        expected += r->bytes + "\n";
        again += r->deliveries++ > 0;
        r->lease = id;
        l.seqs.push_back(r->seq);
    }

    check(body == expected);
    check(out.count == want.size());
    check(out.redelivered == again);
    check(out.id[0] * 256u + out.id[1] == plan.slot);
    check(m_.leases.count(id) == 0);

    m_.leases[id] = l;
    m_.slot_lease[plan.slot] = id;
    m_.leased_total += want.size();
    m_.redelivered += again;
}

void
harness::ack(const std::string &id)
{
    uint32_t count = 12345;
    ring_ack_result rc = ring_ack(
        h_, reinterpret_cast<const unsigned char *>(id.data()), now_, &count);

    m_.reap(now_);

    auto it = m_.leases.find(id);

    /* unknown, or a lease whose slot has since been leased again */
    if (it == m_.leases.end() || m_.slot_lease[it->second.slot] != id) {
        check(rc == ring_ack_result::unknown);
        check(count == 0);
        return;
    }

    model_lease &l = it->second;

    switch (l.state) {
    case lease_state::expired:
        check(rc == ring_ack_result::expired);
        check(count == 0);
        return;

    case lease_state::acked:
        check(rc == ring_ack_result::acked);
        check(count == l.seqs.size());
        return;

    case lease_state::active:
        break;
    }

    check(rc == ring_ack_result::acked);
    check(count == l.seqs.size());

    for (uint64_t seq : l.seqs) {
        for (auto r = m_.records.begin(); r != m_.records.end(); ++r) {
            if (r->seq == seq) {
                check(r->lease == id);
                m_.records.erase(r);
                break;
            }
        }
    }

    l.state = lease_state::acked;
    m_.acknowledged += l.seqs.size();
}

void
harness::ack_known()
{
    if (m_.leases.empty()) {
        return;
    }

    size_t i = in_.ConsumeIntegralInRange<size_t>(0, m_.leases.size() - 1);
    auto it = m_.leases.begin();
    std::advance(it, i);
    ack(it->first);
}

void
harness::ack_forged()
{
    std::string id = in_.ConsumeBytesAsString(ring_lease_id_size);

    id.resize(ring_lease_id_size, '\0');
    ack(id);
}

/* what the next holder does after a holder died: on a consistent ring,
 * nothing it can see */
void
harness::recover()
{
    ring_recovery r;

    h_->holder = 4242;
    check(ring_enter(h_, 1, &r));
    ring_leave(h_);

    check(r.holder == 4242);
    check(!r.bounds_reset && !r.damaged);
    check(h_->holder == 0);
}

void
harness::resize()
{
    size_t size = in_.ConsumeIntegralInRange<size_t>(6008, 96 * 1024) / 8 * 8;
    std::vector<uint64_t> mem(size / 8);
    ring_header *to = ring_init(mem.data(), size);
    ring_carried c;
    uint64_t bytes = 0, entries = 0;

    check(to != nullptr);

    for (const model_record &r : m_.records) {
        bytes += r.bytes.size();
        entries += entry(r.bytes.size());
    }

    std::vector<uint64_t> before = mem_;
    bool fits = ring_carry_over(h_, to, &c);

    check(c.records == m_.records.size());
    check(c.bytes == bytes);

    if (!fits) {
        check(entries > to->cap); /* an empty ring fills from 0: no pad */
        check(mem_ == before);
        return;
    }

    /* the old ring takes nothing any more */
    std::string x = "x";
    uint64_t found[1];
    ring_lease_plan plan;
    uint32_t count;

    check(ring_push(h_, {&x, 1, string_at}, 0) == ring_push_result::retired);
    check(ring_lease_prepare(h_, now_, found, 1, &plan)
          == ring_lease_result::retired);
    if (!m_.leases.empty()) {
        check(ring_ack(h_,
                       reinterpret_cast<const unsigned char *>(
                           m_.leases.begin()->first.data()),
                       now_, &count)
              == ring_ack_result::retired);
    }

    /* every lease ended: its records are visible in the new ring */
    for (model_record &r : m_.records) {
        r.lease.clear();
    }

    m_.leases.clear();
    m_.slot_lease.clear();
    mem_ = std::move(mem);
    h_ = to;
}

void
harness::agree(bool full)
{
    /* the whole ring every few steps (and at the end): a divergence
     * stays until its records leave, and leases compare their bytes */
    if (full || ++steps_ % 8 == 0) {
        walk_state w{&m_.records, 0};

        check(ring_walk(h_, same_record, &w));
        check(w.next == m_.records.size());
    }

    ring_stats st;
    ring_get_stats(h_, now_, &st);

    check(st.depth == m_.records.size());
    check(st.leased == m_.leased_at(now_));
    check(st.bytes_used <= h_->cap);
    check(st.bytes_used + st.bytes_free == h_->cap);
    check(st.any == !m_.records.empty());
    check(st.enqueued == m_.enqueued);
    check(st.leased_total == m_.leased_total);
    check(st.acknowledged == m_.acknowledged);
    check(st.redelivered == m_.redelivered);
    check(st.refused_full == m_.refused_full);
    check(h_->head <= h_->tail && h_->tail - h_->head <= h_->cap);
}

void
harness::step()
{
    switch (in_.ConsumeIntegralInRange<int>(0, 9)) {
    case 0:
    case 1:
    case 2:
        push();
        break;
    case 3:
    case 4:
        lease();
        break;
    case 5:
    case 6:
        ack_known();
        break;
    case 7:
        ack_forged();
        break;
    case 8:
        now_ += in_.ConsumeIntegralInRange<uint64_t>(0, 3000);
        if (in_.ConsumeBool()) {
            recover();
        }
        break;
    case 9:
        resize();
        break;
    }

    agree();
}

} // namespace

extern "C" int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 2048) {
        return 0;
    }

    FuzzedDataProvider in(data, size);
    size_t region = in.ConsumeIntegralInRange<size_t>(6008, 64 * 1024);
    harness h(in, region / 8 * 8);

    check(h.ready());

    while (in.remaining_bytes() > 0) {
        h.step();
    }

    h.finish();

    return 0;
}
