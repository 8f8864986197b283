#!/bin/sh
# Proves the module loads into a given nginx binary: a configuration that
# holds only the load_module line must pass "nginx -t".
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

"$nginx" -t -p "$dir" -c "$dir/nginx.conf" -e "$dir/logs/error.log"
echo "ok: $module loads into $("$nginx" -v 2>&1 | sed 's/.*: //')"
