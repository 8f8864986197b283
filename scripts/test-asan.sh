#!/bin/bash
# make test-asan: the whole Test::Nginx suite against Debian's nginx with the
# module built with -fsanitize=address,undefined (build/asan).
# usage: scripts/test-asan.sh NGINX_BINARY ABS_ASAN_MODULE
#
# nginx itself is not instrumented, so the ASan runtime must be loaded first:
# TEST_NGINX_BINARY points at a wrapper that execs nginx with LD_PRELOAD of
# gcc's libasan (same pid, so the runner's and PXNginx's signals still
# reach nginx); prove, perl and curl run without it.  Both the runner and
# t/helper/PXNginx.pm honour TEST_NGINX_BINARY / TEST_NGINX_LOAD_MODULES.
#
# detect_leaks=0: nginx does not free its cycle pools, its environment copy
# or the connections array at exit (the master just exits), so LeakSanitizer
# would report every configuration allocation, all of them nginx's by
# design; leaks of ours are valgrind's job (make test-valgrind), whose
# suppressions can tell the two apart.  Everything else (overflows,
# use-after-free, double free, UB) is reported into log_path files and
# fails this target, as does any failing test.  The module is built with
# -fsanitize-recover=address and halt_on_error=0, so nginx keeps running
# after a report and one finding does not turn the rest of a file into
# connection errors.
set -uo pipefail

nginx=$1
module=$2
top=$(cd "$(dirname "$0")/.." && pwd)
dir=$(dirname "$module")
reports=$dir/reports
wrapper=$dir/nginx-asan
asan=$(gcc -print-file-name=libasan.so)
ubsan=$(gcc -print-file-name=libubsan.so)

rm -rf "$reports"
mkdir -p "$reports"
cat >"$wrapper" <<WRAP
#!/bin/sh
LD_PRELOAD="$asan $ubsan\${LD_PRELOAD:+ \$LD_PRELOAD}" exec "$nginx" "\$@"
WRAP
chmod +x "$wrapper"

# a port and servroot of its own, so a concurrent "make prove" does not clash
export TEST_NGINX_PORT=${TEST_NGINX_PORT:-4984}
export TEST_NGINX_SERVROOT=${TEST_NGINX_SERVROOT:-t/servroot-asan}
export TEST_NGINX_BINARY=$wrapper
export TEST_NGINX_LOAD_MODULES=$module
ASAN_OPTIONS="detect_leaks=0:abort_on_error=0:halt_on_error=0"
ASAN_OPTIONS="$ASAN_OPTIONS:log_path=$reports/asan:print_stacktrace=1"
export ASAN_OPTIONS="$ASAN_OPTIONS:detect_stack_use_after_return=0"
UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=0"
export UBSAN_OPTIONS="$UBSAN_OPTIONS:log_path=$reports/ubsan"

cd "$top"
"$wrapper" -V 2>&1 | head -1
prove -I"$top/t/lib" -r t/ 2>&1 | tee "$reports/prove.log"
prove_rc=${PIPESTATUS[0]}

# sanitizer reports: the log_path files, plus anything that reached a
# servroot's error log or stderr (e.g. a report printed before log_path)
sanitizer="ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer"
found=$(grep -l -E "$sanitizer" \
    "$reports"/asan* "$reports"/ubsan* "$reports/prove.log" \
    t/servroot*/logs/*.log 2>/dev/null | sort -u)
if [ -n "$found" ]; then
    echo "test-asan: sanitizer reports in:" >&2
    for f in $found; do
        echo "--- $f" >&2
        grep -A40 -E "ERROR: AddressSanitizer|runtime error:" "$f" \
            | head -80 >&2
    done
    exit 1
fi
if [ "$prove_rc" != 0 ]; then
    echo "test-asan: the suite failed under ASan (prove exit $prove_rc)" >&2
    exit 1
fi
echo "test-asan: suite passed, no sanitizer report"
