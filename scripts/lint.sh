#!/bin/sh
# Style gates: clang-format, nginx geometry (80 columns, no tabs), and the
# addon script listing every source and header the module is built from.
set -eu

status=0

cxx_files=$(find src test fuzz tools bench -name '*.cpp' -o -name '*.hpp' \
            2>/dev/null | sort)

if [ -n "$cxx_files" ]; then
    # shellcheck disable=SC2086
    clang-format --dry-run -Werror $cxx_files || status=1
fi

# shellcheck disable=SC2086
if ! awk 'length($0) > 80 { printf "%s:%d: longer than 80 columns\n",
                                   FILENAME, FNR; bad = 1 }
          /\t/             { printf "%s:%d: tab\n", FILENAME, FNR; bad = 1 }
          END              { exit bad }' \
        $cxx_files config config.make scripts/*.sh
then
    status=1
fi

for f in src/*.cpp src/*.hpp src/core/*.cpp src/core/*.hpp; do
    [ -e "$f" ] || continue
    if ! grep -q "\$ngx_addon_dir/$f" config; then
        echo "config: $f is not listed" >&2
        status=1
    fi
done

# nginx >= 1.23 reads ngx_table_elt_t.next: response headers are pushed only
# by ngx_http_provision_x_push_header(), which sets every field.
if grep -n 'ngx_list_push(&r->headers_out.headers)' src/*.cpp \
    | grep -v '^src/ngx_http_provision_x_http.cpp:'; then
    echo "push response headers with ngx_http_provision_x_push_header()" >&2
    status=1
fi

# The core knows nothing of nginx (docs/ARCHITECTURE.md).
if grep -n '^#include <ngx_\|\bngx_[a-z_]*(' src/core/*.cpp src/core/*.hpp; then
    echo "src/core/ must not use nginx" >&2
    status=1
fi

# One way to answer: ngx_http_provision_x_send() and its wrappers.
if grep -n 'ngx_http_send_header(' src/*.cpp \
    | grep -v '^src/ngx_http_provision_x_http.cpp:'; then
    echo "send responses with ngx_http_provision_x_send()" >&2
    status=1
fi

# Every library the module links (config) is a build dependency of the
# Debian package: a clean builder has only what debian/control names.
for lib in $(grep -o '}-l[a-z0-9]*' config | sed 's/^}-l//' | sort -u); do
    case $lib in
    crypto) pkg=libssl-dev ;;
    *)      pkg=lib$lib-dev ;;
    esac
    if ! grep -q "^ *$pkg,\?$" debian/control; then
        echo "debian/control: Build-Depends lacks $pkg (-l$lib)" >&2
        status=1
    fi
done

# The man page renders without a warning.
if ! out=$(groff -man -Tutf8 -ww -z docs/provision-x.1 2>&1) || [ -n "$out" ]
then
    echo "docs/provision-x.1: $out" >&2
    status=1
fi

# the status page's embedded copy (and its CSP hashes) match the page
scripts/embed-status-page.py --check || status=1

[ $status = 0 ] && echo "lint: ok"
exit $status
