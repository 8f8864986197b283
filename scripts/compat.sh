#!/bin/sh
# Builds an nginx binary and the module from an nginx.org source tarball
# (a current release, next to Debian's 1.22.1) and runs the whole
# Test::Nginx suite against that pair.
# usage: scripts/compat.sh TARBALL BUILD_DIR MODULE_DIR [PROVE_ARGS]
# (PROVE_ARGS default: -r t/)
#
# The tarball is not part of the repository: without it the target says so
# and succeeds, so a clone without ../shared/nginx still passes make test.
set -eu

tarball=$1
build=$2
module=$3
shift 3

if [ ! -f "$tarball" ]; then
    echo "make compat: skipped, no nginx source tarball at $tarball"
    echo "  (NGINX_TARBALL=/path/to/nginx-X.Y.Z.tar.gz make compat)"
    exit 0
fi

name=$(basename "$tarball" .tar.gz)
tree=$build/$name

# A tree configured before the tarball, the addon script or VERSION last
# changed is configured again from a fresh copy.
if [ ! -f "$tree/objs/Makefile" ] ||
    [ -n "$(find "$tarball" "$module/config" "$module/config.make" \
                 "$module/VERSION" "$0" -newer "$tree/objs/Makefile")" ]
then
    rm -rf "$tree"
    mkdir -p "$build"
    tar -xzf "$tarball" -C "$build"
    [ -d "$tree" ] || {
        echo "$tarball does not unpack into $name/" >&2
        exit 1
    }
    # A tree packed from the repository has auto/configure, a release
    # tarball ./configure.
    configure=./configure
    [ -x "$tree/configure" ] || configure=auto/configure
    (cd "$tree" && $configure --with-compat --with-debug \
        --with-http_ssl_module --with-http_v2_module \
        --add-dynamic-module="$module" >configure.log 2>&1) || {
        tail -20 "$tree/configure.log" >&2
        exit 1
    }
fi

make -s -C "$tree" -j2 >/dev/null

binary=$tree/objs/nginx
so=$tree/objs/ngx_http_provision_x_module.so
echo "compat: $("$binary" -v 2>&1 | sed 's/.*: //') and $so"

[ $# -gt 0 ] || set -- -r t/
cd "$module"
TEST_NGINX_BINARY=$binary TEST_NGINX_LOAD_MODULES=$so \
PROVISION_X_NGINX_TREE=$tree \
    prove -I"$module/t/lib" "$@"
