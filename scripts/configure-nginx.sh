#!/bin/bash
# Configures a private copy of an nginx source tree with this module as a
# dynamic addon.
# usage: scripts/configure-nginx.sh NGINX_SRC BUILD_DIR MODULE_DIR
#
# A copy, because Debian's /usr/share/nginx/src has no objs/ and configure
# writes a Makefile into the tree it runs in.  Debian's own configure flags
# (conf_flags) give the module the binary's signature and its NGX_SSL,
# NGX_THREADS, NGX_DEBUG view of the structs; extra compiler flags go through
# --with-cc-opt, never CFLAGS, which would drop nginx's -W -Wall -Werror.
set -euo pipefail

src=$1
build=$2
module=$3

rm -rf "$build"
mkdir -p "$build"
cp -a "$src/." "$build/"
cd "$build"

flags=()
if [ -f conf_flags ]; then
    # shellcheck disable=SC1091
    . ./conf_flags
    flags=("${NGX_CONF_FLAGS[@]}")
else
    flags=(--with-compat)
fi

cc_opt="-fPIC"
ld_opt="-fPIC"
if command -v dpkg-buildflags >/dev/null; then
    cc_opt="$(dpkg-buildflags --get CFLAGS) -fPIC"
    cc_opt="$cc_opt $(dpkg-buildflags --get CPPFLAGS)"
    ld_opt="$(dpkg-buildflags --get LDFLAGS) -fPIC"
fi
cc_opt="$cc_opt ${PROVISION_X_CC_OPT:-}"
ld_opt="$ld_opt ${PROVISION_X_LD_OPT:-}"

./configure --with-cc-opt="$cc_opt" --with-ld-opt="$ld_opt" \
    "${flags[@]}" --add-dynamic-module="$module" >configure.log 2>&1 || {
    tail -20 configure.log >&2
    exit 1
}
