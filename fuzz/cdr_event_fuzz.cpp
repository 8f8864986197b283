/*
 * libFuzzer harness: event pushes through parse_push, copied and in
 * place, and every NDJSON line (see cdr_fuzz_check.hpp): a Huawei
 * location that accepts every Huawei event type (the envelope picks
 * one), and an Aliyun location of one receipt type, chosen by the
 * input's length.
 *
 *   clang++-14 -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined \
 *       -Isrc -Ifuzz fuzz/cdr_event_fuzz.cpp src/core/cdr.cpp \
 *       src/core/encoding.cpp src/core/hmac.cpp \
 *       -lsimdjson -ljansson -lcrypto -o cdr_event_fuzz
 *   ./cdr_event_fuzz -dict=fuzz/cdr.dict fuzz/corpus/cdr_event
 */
#include "cdr_fuzz_check.hpp"

#include <cstddef>
#include <cstdint>
#include <iterator>

extern "C" int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    using namespace provision_x;

    /* larger bodies only repeat the same paths more slowly */
    if (size > 256 * 1024) {
        return 0;
    }

    static const push_type aliyun[] = {
        push_type::start_report, push_type::ring_report, push_type::recording,
        push_type::number_report};
    uint32_t huawei = 0;

    for (size_t t = 0; t < push_type_count; t++) {
        uint32_t bit = push_type_bit(static_cast<push_type>(t));
        if (t != static_cast<size_t>(push_type::cdr)
            && push_types_valid(dialect::huawei, bit))
        {
            huawei |= bit;
        }
    }

    fuzz::run(dialect::huawei, data, size, huawei);
    fuzz::run(dialect::aliyun, data, size,
              push_type_bit(aliyun[size % std::size(aliyun)]));
    return 0;
}
