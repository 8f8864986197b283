/*
 * libFuzzer harness: huawei CDR push bodies through parse_push, copied
 * and in place, and every NDJSON line (see cdr_fuzz_check.hpp).
 *
 *   clang++-14 -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined \
 *       -Isrc -Ifuzz fuzz/cdr_huawei_fuzz.cpp src/core/cdr.cpp \
 *       src/core/encoding.cpp src/core/hmac.cpp \
 *       -lsimdjson -ljansson -lcrypto -o cdr_huawei_fuzz
 *   ./cdr_huawei_fuzz -dict=fuzz/cdr.dict fuzz/corpus/cdr_huawei
 */
#include "cdr_fuzz_check.hpp"

#include <cstddef>
#include <cstdint>

extern "C" int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* larger bodies only repeat the same paths more slowly */
    if (size > 256 * 1024) {
        return 0;
    }

    provision_x::fuzz::run(provision_x::dialect::huawei, data, size);
    return 0;
}
