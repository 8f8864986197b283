#!/bin/sh
# Style gates: clang-format, nginx geometry (80 columns, no tabs), and the
# addon script listing every source and header the module is built from.
set -eu

status=0

cxx_files=$(find src test/unit fuzz tools -name '*.cpp' -o -name '*.hpp' \
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
        $cxx_files config config.make util/*.sh
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

# the status page's embedded copy (and its CSP hashes) match the page
util/embed-status-page.py --check || status=1

[ $status = 0 ] && echo "lint: ok"
exit $status
