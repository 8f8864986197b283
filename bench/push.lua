-- wrk script for the Huawei push benchmarks.
-- args: BODY_FILE HEADER_POOL_FILE MODE(new|retry) TAG
-- Each request takes the next pre-signed X-AKSK header from the pool (fresh
-- nonce each; wrk's LuaJIT has no HMAC, bench/sign_pool.pl made them); in
-- "new" mode every sessionId of the template gets a per-request prefix so
-- all 50 records are new to the dedup zone.
local body, pool, mode, tag
local template
local n = 0
local headers = {}
local aksk = {}

function init(args)
    local f = assert(io.open(args[1], "rb"))
    template = f:read("*a"):gsub("%s+$", "")
    f:close()
    for line in io.lines(args[2]) do aksk[#aksk + 1] = line end
    mode = args[3] or "new"
    tag = args[4] or "b"
    headers["Content-Type"] = "application/json;charset=UTF-8"
    headers["Authorization"] =
        'AKSK realm="SDP",profile="UsernameToken",type="Appkey"'
end

function request()
    n = n + 1
    if n > #aksk then n = 1 end   -- pool exhausted: replays show as non-2xx
    headers["X-AKSK"] = aksk[n]
    local b = template
    if mode == "new" then
        local p = '"sessionId":"' .. tag .. n .. '_'
        b = template:gsub('"sessionId":"', p)
    end
    return wrk.format("POST", nil, headers, b)
end
