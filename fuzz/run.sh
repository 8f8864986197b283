#!/bin/sh
# Builds every libFuzzer harness fuzz/NAME_fuzz.cpp against the core and
# runs each for a bounded time on a scratch copy of its seed corpus
# (fuzz/corpus/NAME) with its dictionary (fuzz/NAME.dict, or the one of
# its family, fuzz/cdr.dict for cdr_*).  Any crash fails the run and
# leaves the input in build/fuzz/NAME/crash-*: turn it into a unit test.
# usage: fuzz/run.sh SECONDS_PER_HARNESS [NAME...]
set -eu

seconds=${1:-30}
shift || true
top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/build/fuzz
cxx=${FUZZ_CXX:-clang++-14}
flags="-std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined"
flags="$flags -fno-sanitize-recover=undefined"

names=$*
if [ -z "$names" ]; then
    for f in "$top"/fuzz/*_fuzz.cpp; do
        names="$names $(basename "$f" _fuzz.cpp)"
    done
fi

mkdir -p "$out"
status=0

for name in $names; do
    dir=$out/$name
    rm -rf "$dir"
    mkdir -p "$dir/corpus"
    cp "$top/fuzz/corpus/$name"/* "$dir/corpus/" 2>/dev/null || true

    # the differential harness starts from every CDR seed of both dialects
    if [ "$name" = cdr_diff ]; then
        for seeds in "$top"/fuzz/corpus/cdr_*; do
            for f in "$seeds"/*; do
                cp "$f" "$dir/corpus/$(basename "$seeds")_$(basename "$f")"
            done
        done
    fi

    # shellcheck disable=SC2086
    $cxx $flags -I"$top/src" -I"$top/fuzz" \
        "$top/fuzz/${name}_fuzz.cpp" "$top"/src/core/*.cpp \
        -lsimdjson -ljansson -lcrypto -o "$dir/fuzzer"

    dict=$top/fuzz/$name.dict
    [ -f "$dict" ] || dict=$top/fuzz/${name%%_*}.dict
    dict_opt=
    [ -f "$dict" ] && dict_opt=-dict=$dict

    echo "fuzz: $name for ${seconds}s"
    if ! (cd "$dir" && ./fuzzer $dict_opt -max_total_time="$seconds" \
              -print_final_stats=1 corpus >fuzz.log 2>&1); then
        echo "fuzz: $name FAILED, see $dir/fuzz.log" >&2
        tail -30 "$dir/fuzz.log" >&2
        status=1
        continue
    fi
    grep -E "stat::number_of_executed_units" "$dir/fuzz.log" || true
done

exit $status
