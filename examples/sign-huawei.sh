#!/bin/sh
# Sends a Huawei X-AKSK signed POST, the way the platform does.
# usage: sign-huawei.sh SECRET_FILE URL [APP_KEY] [BODY]
# Needs only openssl and curl; the secret is read from a file and never
# appears on a command line.
set -eu

secret_file=$1
url=$2
app=${3:-demo-huawei}
body=${4:-'{"eventType":"callin","statusInfo":{"sessionId":"demo-1"}}'}

nonce=$(openssl rand -hex 16)
created=$(date -u +%Y-%m-%dT%H:%M:%SZ)
key=$(tr -d '\r\n' <"$secret_file")
digest=$(printf '%s%s' "$nonce" "$created" |
         openssl dgst -sha256 -mac HMAC -macopt "key:$key" -binary |
         openssl base64 -A)

curl -sS -i -X POST "$url" \
    -H 'Content-Type: application/json;charset=UTF-8' \
    -H 'Authorization: AKSK realm="SDP",profile="UsernameToken",type="Appkey"' \
    -H "X-AKSK: UsernameToken Username=\"$app\",PasswordDigest=\"$digest\",Nonce=\"$nonce\",Created=\"$created\"" \
    --data-binary "$body"
echo
