#!/bin/sh
# Builds the Debian packages from a copy of the tree: dpkg-buildpackage
# writes its results into the parent of the tree it builds, and that parent
# must be ours (build/deb/), not whatever holds the checkout.
# usage: scripts/build-deb.sh SOURCE_DIR OUT_DIR DEBIAN_REVISION
set -eu

top=$1
out=$2
revision=$3
version=$(cat "$top/VERSION")
src=$out/provision-x-$version

rm -rf "$out"
mkdir -p "$src"
(cd "$top" && tar --exclude=./build --exclude='./t/servroot*' \
    --exclude=./.git --exclude=./fuzz/out -cf - .) | tar -xf - -C "$src"

# VERSION is the only version written down; the Debian changelog that
# carries it into the package is made here, dated by the last commit.
date=$(git -C "$top" log -1 --format=%aD 2>/dev/null || date -R)
cat >"$src/debian/changelog" <<END
libnginx-mod-http-provision-x ($version-$revision) unstable; urgency=medium

  * Release $version; CHANGELOG.md lists the changes.

 -- ngx_http_provision_x_module authors <provision-x@example.org>  $date
END

cd "$src"
dpkg-buildpackage -b -us -uc -j2 >"$out/build.log" 2>&1 || {
    tail -40 "$out/build.log" >&2
    exit 1
}
ls "$out"/*.deb
