#!/bin/sh
# Proves the module loads into a given nginx binary: a configuration that
# holds only the load_module line must pass "nginx -t", and so must the
# distribution's own /etc/nginx/nginx.conf with that line added in front
# (loading the module must not break a configuration that never uses it).
# usage: scripts/check-load.sh NGINX_BINARY ABSOLUTE_MODULE_PATH
set -eu

nginx=$1
module=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

mkdir -p "$dir/logs"
cat >"$dir/nginx.conf" <<END
load_module $module;
events {}
END

"$nginx" -t -q -p "$dir" -c "$dir/nginx.conf" -e "$dir/logs/error.log"
version=$("$nginx" -v 2>&1 | sed 's/.*: //')
echo "ok: $module loads into $version"

# An installed package of the module (50-mod-http-provision-x.conf) would
# load it a second time: the stock file includes the enabled modules from
# a copy without it, so this build stands in for the installed one.
stock=/etc/nginx/nginx.conf
enabled=/etc/nginx/modules-enabled
if [ -f "$stock" ]; then
    mkdir "$dir/modules-enabled"
    for conf in "$enabled"/*.conf; do
        [ -e "$conf" ] || continue
        grep -q "$(basename "$module")" "$conf" ||
            cp "$conf" "$dir/modules-enabled/"
    done
    { echo "load_module $module;"
      sed "s|$enabled/|$dir/modules-enabled/|" "$stock"; } >"$dir/stock.conf"
    "$nginx" -t -q -c "$dir/stock.conf" -e "$dir/logs/error.log"
    echo "ok: $stock with the module loaded passes nginx -t"
fi
