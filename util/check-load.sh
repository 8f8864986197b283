#!/bin/sh
# Proves the module loads into a given nginx binary: a configuration that
# holds only the load_module line must pass "nginx -t", and so must the
# distribution's own /etc/nginx/nginx.conf with that line added in front
# (loading the module must not break a configuration that never uses it).
# usage: util/check-load.sh NGINX_BINARY ABSOLUTE_MODULE_PATH
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

stock=/etc/nginx/nginx.conf
if [ -f "$stock" ]; then
    { echo "load_module $module;"; cat "$stock"; } >"$dir/stock.conf"
    "$nginx" -t -q -c "$dir/stock.conf" -e "$dir/logs/error.log"
    echo "ok: $stock with the module loaded passes nginx -t"
fi
