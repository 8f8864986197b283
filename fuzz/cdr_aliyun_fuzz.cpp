/*
 * libFuzzer harness: aliyun CDR push bodies through parse_push, copied
 * and in place, and every NDJSON line (see cdr_fuzz_check.hpp).
 *
 *   clang++-14 -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined \
 *       -Isrc -Ifuzz fuzz/cdr_aliyun_fuzz.cpp src/core/cdr.cpp \
 *       src/core/encoding.cpp src/core/hmac.cpp \
 *       -lsimdjson -ljansson -lcrypto -o cdr_aliyun_fuzz
 *   ./cdr_aliyun_fuzz -dict=fuzz/cdr.dict fuzz/corpus/cdr_aliyun
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

    provision_x::fuzz::run(provision_x::dialect::aliyun, data, size);
    return 0;
}
