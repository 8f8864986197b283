#!/bin/sh
# Runs the demo gateway in the foreground under a private prefix, so
# nothing is written to /etc or /var.  Ctrl-C stops it (fast shutdown).
# usage: scripts/run.sh NGINX_BINARY ABSOLUTE_MODULE_PATH PREFIX
# PX_DEMO_PORT (8080) and PX_DEMO_PLATFORM_PORT (8081, the stand-in
# platform) move the two listeners: t/049-readme.t runs the README's
# examples against a demo on a test port.
set -eu

nginx=$1
module=$2
prefix=$3
top=$(cd "$(dirname "$0")/.." && pwd)
port=${PX_DEMO_PORT:-8080}
platform_port=${PX_DEMO_PLATFORM_PORT:-8081}

mkdir -p "$prefix/conf" "$prefix/logs" "$prefix/temp" "$prefix/data"
sed -e "s/127\.0\.0\.1:8080/127.0.0.1:$port/g" \
    -e "s/127\.0\.0\.1:8081/127.0.0.1:$platform_port/g" \
    "$top/examples/nginx.conf" >"$prefix/conf/nginx.conf"

# Demo secrets: fixed, so the README's examples can be pasted as they are.
umask 077
printf 'demo-huawei-secret\n' >"$prefix/conf/demo-huawei.key"
printf 'demo-aliyun-secret\n' >"$prefix/conf/demo-aliyun.key"
printf 'demo-consumer-key\n' >"$prefix/conf/demo-consumer.key"

cat <<END
provision-x demo gateway on http://127.0.0.1:$port  (Ctrl-C stops it)
  prefix: $prefix
  error log: stderr    access log: $prefix/logs/access.log

  A signed Huawei call event (app demo-huawei, secret in conf/):
    $top/examples/sign-huawei.sh $prefix/conf/demo-huawei.key \\
        http://127.0.0.1:$port/px/huawei/event
  An unsigned one is refused with 401:
    curl -i http://127.0.0.1:$port/px/huawei/event

  Push a signed sample CDR with provision-x (README), read it back:
    $top/build/provision-x sign --dialect huawei --app demo-huawei \\
        --sample fee --secret-file $prefix/conf/demo-huawei.key \\
        --url http://127.0.0.1:$port/px/huawei/fee | sh
    curl -i -H "Authorization: Bearer \$(cat $prefix/conf/demo-consumer.key)" \\
        'http://127.0.0.1:$port/px/queue?max=10&wait=0'
  Act as the platform (500 CDRs, the retry schedule compressed 600x):
    $top/build/provision-x simulate --dialect huawei --app demo-huawei \\
        --secret-file $prefix/conf/demo-huawei.key --records 500 \\
        --url http://127.0.0.1:$port/px/huawei/fee
END

exec "$nginx" -p "$prefix/" -c conf/nginx.conf -e stderr \
    -g "load_module $module; daemon off; error_log stderr info;"
