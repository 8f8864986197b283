-- The OpenResty peer of `make bench`: the module's Huawei push pipeline
-- (provision_x_verify huawei; provision_x_nonce; provision_x_cdr huawei
-- queue= dedup=) written the way an OpenResty developer would, with what
-- Debian packages: lua-nginx-module (libnginx-mod-http-lua), lua-cjson,
-- and LuaJIT's FFI into the libcrypto nginx already links (HMAC-SHA256 and
-- SHA-256, as lua-resty-string does; Debian packages no lua-resty-string).
--
-- Per push, like the module:
--   verify   Authorization + X-AKSK parsed (attributes in any order, each
--            exactly once), app looked up, PasswordDigest = Base64(HMAC-
--            SHA256(secret, nonce .. created)) compared, Created inside the
--            clock window (UTC, or UTC+8 as Huawei's samples stamp it), the
--            nonce added to a lua_shared_dict (refused when present);
--   retry    only at /huawei/fee-digest (_M.cdr_digest), the module's own
--            shortcut: SHA-256 of the body looked up in the dedup dict, an
--            identical retry of a push handed off before answered at once.
--            /huawei/fee (_M.cdr) is issue 15's reference pipeline, which
--            deduplicates a retry's records one by one like any push's;
--   parse    cjson decode; envelope {"eventType":"fee","feeLst":[1..50]};
--            every record's known fields checked against the module's
--            rules (src/core/cdr.cpp: required, types, lengths in code
--            points, recordFlag 0..1, null = absent);
--   key      huawei/<appKey>/<sessionId>/<direction>/<icid>, components
--            percent-encoded; repeats inside the push and keys in the
--            dedup dict are duplicates;
--   line     the module's NDJSON wrapper around the record (re-encoded by
--            cjson: a Lua peer has no raw record bytes);
--   enqueue  rpush of every new line to a list in the queue dict, then the
--            keys (and at /huawei/fee-digest the body digest) marked seen
--            (24 h), answer {}.
-- Where it is laxer than the module (cjson cannot tell 1 from 1.0, sees
-- no duplicate keys, and re-serialises records) it does less work, not
-- more: the comparison favours the peer.

local ffi = require "ffi"
local cjson = require "cjson"

local ngx = ngx
local ngx_req = ngx.req
local ngx_say = ngx.say
local ngx_time = ngx.time
local ngx_exit = ngx.exit
local ngx_header = ngx.header
local encode_base64 = ngx.encode_base64
local byte = string.byte
local find = string.find
local format = string.format
local gmatch = string.gmatch
local gsub = string.gsub
local sub = string.sub
local type = type
local floor = math.floor
local next = next
local concat = table.concat

ffi.cdef [[
typedef struct evp_md_st EVP_MD;
const EVP_MD *EVP_sha256(void);
unsigned char *HMAC(const EVP_MD *evp_md, const void *key, int key_len,
                    const unsigned char *d, size_t n, unsigned char *md,
                    unsigned int *md_len);
unsigned char *SHA256(const unsigned char *d, size_t n, unsigned char *md);
]]

-- nginx links libcrypto; fall back to loading it by name
local crypto = ffi.C
if not pcall(function() return crypto.HMAC end) then
    crypto = ffi.load("crypto")
end

local sha256_md = crypto.EVP_sha256()
local digest_buf = ffi.new("unsigned char[32]")
local digest_len = ffi.new("unsigned int[1]")

local function hmac_sha256(key, msg)
    if crypto.HMAC(sha256_md, key, #key, msg, #msg, digest_buf,
                   digest_len) == nil then
        return nil
    end
    return ffi.string(digest_buf, 32)
end

local function sha256(data)
    crypto.SHA256(data, #data, digest_buf)
    return ffi.string(digest_buf, 32)
end

-- Debian's lua-cjson (upstream 2.1.0) has no array_mt: a decoded JSON
-- array is a table with a sequence part, an object one without (its keys
-- are strings); [] and {} are alike, and both mean "no records" or
-- "missing fields" here.
local function is_array(t)
    return t[1] ~= nil
end

local null = cjson.null
local encode = cjson.encode
local decode = cjson.decode

local _M = {}

local apps = {}            -- name -> secret
local clock_window = 900   -- the module's default, both ways
local beijing = 8 * 3600
local max_records = 50
local dedup_ttl = 24 * 3600

-- init_by_lua: secrets from files, never in nginx.conf
function _M.init(conf)
    for name, path in pairs(conf.apps) do
        local f = assert(io.open(path, "rb"))
        apps[name] = (f:read("*a"):gsub("[\r\n\t ]+$", ""))
        f:close()
    end
end

local function reject(status, code, desc)
    ngx.status = status
    ngx_header["Content-Type"] = "application/json;charset=UTF-8"
    ngx_say('{"resultcode":"', code, '","resultdesc":"', desc, '"}')
    return ngx_exit(status)
end

-- days since 1970-01-01 of a proleptic Gregorian date
local function days_from_civil(y, m, d)
    if m <= 2 then y = y - 1 end
    local era = floor(y / 400)
    local yoe = y - era * 400
    local mp = (m + 9) % 12
    local doy = floor((153 * mp + 2) / 5) + d - 1
    local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
    return era * 146097 + doe - 719468
end

local month_days = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }

local function parse_created(s)
    local y, mo, d, h, mi, se =
        s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)T(%d%d):(%d%d):(%d%d)Z$")
    if not y then return nil end
    y, mo, d, h, mi, se = tonumber(y), tonumber(mo), tonumber(d),
        tonumber(h), tonumber(mi), tonumber(se)
    if mo < 1 or mo > 12 or d < 1 or h > 23 or mi > 59 or se > 59 then
        return nil
    end
    local leap = (y % 4 == 0 and y % 100 ~= 0) or y % 400 == 0
    if d > month_days[mo] + ((mo == 2 and leap) and 1 or 0) then
        return nil
    end
    return days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se
end

local token_keys = {
    Username = true, PasswordDigest = true, Nonce = true, Created = true,
}

-- X-AKSK: UsernameToken k="v", k="v", ...  (order free, each once)
local function parse_token(value)
    if sub(value, 1, 14) ~= "UsernameToken " then return nil end
    local t = {}
    local rest = gsub(sub(value, 15), "^%s+", "")
    local n = 0
    for k, v, sep in gmatch(rest, '([%a]+)="([^"\\%c]*)"%s*(,?)%s*') do
        if not token_keys[k] or t[k] then return nil end
        t[k] = v
        n = n + 1
    end
    if n ~= 4 then return nil end
    if not find(t.Nonce, "^[%w]+$") or #t.Nonce > 128
       or #t.Username == 0 or #t.Username > 256
       or not find(t.PasswordDigest, "^[%w+/=]+$") then
        return nil
    end
    return t
end

local authorization_aksk =
    'AKSK realm="SDP",profile="UsernameToken",type="Appkey"'

-- access_by_lua: provision_x_verify huawei + provision_x_nonce
function _M.verify()
    local headers = ngx_req.get_headers()
    local auth = headers["authorization"]
    local x_aksk = headers["x-aksk"]
    if auth == nil or x_aksk == nil then
        return reject(401, "1023033", "The request carries no signature.")
    end
    if type(auth) == "table" or type(x_aksk) == "table"
       or gsub(auth, ",%s+", ",") ~= authorization_aksk then
        return reject(400, "1023031", "The signature parameters are malformed.")
    end

    local t = parse_token(x_aksk)
    local stamp = t and parse_created(t.Created)
    if not stamp then
        return reject(400, "1023031", "The signature parameters are malformed.")
    end

    local secret = apps[t.Username]
    if secret == nil then
        return reject(403, "1010003", "Invalid app_key.")
    end

    local mac = hmac_sha256(secret, t.Nonce .. t.Created)
    if mac == nil then
        return reject(500, "1010001", "The signature could not be checked.")
    end
    if encode_base64(mac) ~= t.PasswordDigest then
        return reject(403, "1010002", "The signature does not match.")
    end

    local now = ngx_time()
    local fresh = stamp
    if stamp < now - clock_window or stamp > now + clock_window then
        fresh = stamp - beijing
        if fresh < now - clock_window or fresh > now + clock_window then
            return reject(403, "1010013", "Time out limit.")
        end
    end

    local ok, err = ngx.shared.nonces:add(t.Username .. "\0" .. t.Nonce,
                                          true,
                                          stamp + clock_window + 1 - now)
    if not ok then
        if err == "exists" then
            return reject(403, "1010002", "The nonce has been used already.")
        end
        return reject(503, "1010001", "Replay protection is at capacity.")
    end

    ngx.ctx.app = t.Username
end

-- the module's rules for FeeInfo (src/core/cdr.cpp huawei_rules)
local S, I = "string", "integer"
local rules = {
    appKey = { S, true, 1, 128 }, areaCode = { S, false, 0, 32 },
    bindNum = { S, true, 1, 32 }, callEndTime = { S }, callInTime = { S },
    callOutAlertingTime = { S }, callOutAnswerTime = { S },
    callOutStartTime = { S }, callOutUnaswRsn = { I },
    callRelDirection = { I }, calleeNum = { S, true, 1, 32 },
    callerNum = { S, true, 1, 32 }, direction = { I }, extendNum = { S },
    failTime = { S, false, 0, 128 }, fwdAlertingTime = { S, false, 0, 128 },
    fwdAnswerTime = { S }, fwdDisplayNum = { S }, fwdDstNum = { S },
    fwdStartTime = { S, false, 0, 128 }, fwdUnaswRsn = { I },
    hostName = { S }, icid = { S, false, 1, 64 }, mptyId = { S },
    notifyMode = { S }, recordBucketName = { S },
    recordDomain = { S, false, 0, 256 },
    recordFileDownloadUrl = { S, false, 0, 1024 },
    recordFlag = { I, false, 0, 1 }, recordObjectName = { S, false, 0, 128 },
    recordPushURL = { S }, recordStartTime = { S, false, 0, 128 },
    serviceType = { S }, sessionId = { S, true, 1, 256 },
    sipStatusCode = { I }, spId = { S, true, 1, 32 }, subscriptionId = { S },
    ttsPlayTimes = { I }, ttsTransDuration = { I }, ulFailReason = { I },
    userData = { S, false, 0, 256 },
}
local required = {}
for name, rule in pairs(rules) do
    if rule[2] then required[#required + 1] = name end
end

local function code_points(s)
    local _, n = gsub(s, "[^\128-\191]", "")
    return n
end

-- nil when valid, else the reason
local function check_record(rec)
    if type(rec) ~= "table" or is_array(rec) then
        return "record is not a JSON object"
    end
    for name, v in pairs(rec) do
        local rule = rules[name]
        if rule and v ~= null then
            local kind, _, lo, hi = rule[1], rule[2], rule[3], rule[4]
            if kind == S then
                if type(v) ~= "string" then
                    return name .. " must be a string"
                end
                local n = #v
                if lo and n < lo then
                    return name .. " must not be empty"
                end
                if hi and hi > 0 and n > hi and code_points(v) > hi then
                    return name .. " is too long"
                end
            else
                if type(v) ~= "number" or v ~= floor(v) then
                    return name .. " must be an integer"
                end
                if lo and (v < lo or v > hi) then
                    return name .. " is out of range"
                end
            end
        end
    end
    for i = 1, #required do
        local v = rec[required[i]]
        if v == nil or v == null then
            return "missing required field " .. required[i]
        end
    end
    return nil
end

local function escape_component(s)
    return (gsub(s, "[^%w%-%._~@:+]", function(c)
        return format("%%%02X", byte(c))
    end))
end

local function record_key(rec)
    local d = rec.direction
    local icid = rec.icid
    return "huawei/" .. escape_component(rec.appKey) .. "/"
        .. escape_component(rec.sessionId) .. "/"
        .. ((d ~= nil and d ~= null) and format("%d", d) or "") .. "/"
        .. ((icid ~= nil and icid ~= null) and escape_component(icid) or "")
end

local function answer(status, code, desc)
    ngx.status = status
    ngx_header["Content-Type"] = "application/json;charset=UTF-8"
    if status == 200 then
        ngx_say("{}")
    else
        ngx_say('{"resultcode":"', code, '","resultdesc":"', desc, '"}')
    end
    return ngx_exit(status)
end

-- provision_x_cdr huawei queue=q dedup=dedup; with_body_digest: an
-- identical retry is answered from the body's SHA-256, as the module does
local function receive(with_body_digest)
    if ngx_req.get_method() ~= "POST" then
        return answer(405, "405", "only POST is accepted")
    end
    ngx_req.read_body()
    local body = ngx_req.get_body_data()
    if body == nil then
        return answer(413, "413", "request body is too large")
    end

    local dedup = ngx.shared.dedup
    local body_key = with_body_digest and "body:" .. sha256(body)
    if body_key and dedup:get(body_key) then
        return answer(200) -- an identical retry of a push handed off
    end

    local ok, root = pcall(decode, body)
    if not ok or type(root) ~= "table" or is_array(root) then
        return answer(400, "400", "the push is not a JSON object")
    end
    if root.eventType ~= "fee" then
        return answer(400, "400", "eventType is not fee")
    end
    local list = root.feeLst
    local n = type(list) == "table" and #list or 0
    if type(list) ~= "table" or (n == 0 and next(list) ~= nil) then
        return answer(400, "400", "feeLst is not an array")
    end
    if n == 0 or n > max_records then
        return answer(400, "400", "feeLst holds 0 or too many records")
    end

    local received = ngx.utctime()
    received = sub(received, 1, 10) .. "T" .. sub(received, 12) .. "Z"
    local app = ngx.ctx.app
    local prefix = '{"dialect":"huawei","type":"cdr","app":' .. encode(app)
    local wrapped_received = ',"received":"' .. received .. '","record":'

    local lines, keys, seen = {}, {}, {}
    local fresh = 0
    for i = 1, n do
        local rec = list[i]
        local why = check_record(rec)
        if not why and rec.appKey ~= app then
            -- the module's app binding: a record speaks for its signer only
            why = 'field "appKey" is not the app that signed the push'
        end
        if why then
            ngx.log(ngx.WARN, "dead-lettered huawei CDR record ", i, ": ", why)
        else
            local key = record_key(rec)
            if not seen[key] and not dedup:get(key) then
                seen[key] = true
                fresh = fresh + 1
                keys[fresh] = key
                lines[fresh] = concat({ prefix, ',"key":', encode(key),
                                        wrapped_received, encode(rec), "}" })
            end
        end
    end

    local q = ngx.shared.q
    for i = 1, fresh do
        local len, err = q:rpush("q", lines[i])
        if not len then
            ngx.log(ngx.WARN, "queue refused a record: ", err)
            return answer(503, "503", "queue full, retry later")
        end
    end

    for i = 1, fresh do
        dedup:set(keys[i], true, dedup_ttl)
    end
    if body_key then
        dedup:set(body_key, true, dedup_ttl)
    end

    return answer(200)
end

-- content_by_lua: issue 15's reference pipeline
function _M.cdr()
    return receive(false)
end

-- content_by_lua: the same with the module's retry shortcut
function _M.cdr_digest()
    return receive(true)
end

-- between the bench's rounds: the queue emptied, as consumers would, so
-- that the next round writes into memory the dict has used before
function _M.drain()
    local q = ngx.shared.q
    local n = 0
    while q:lpop("q") do
        n = n + 1
    end
    ngx_say('{"drained":', n, "}")
end

-- what the bench checks after its runs: the peer really queued records
function _M.status()
    ngx_header["Content-Type"] = "application/json"
    ngx_say('{"queue_length":', ngx.shared.q:llen("q"), "}")
end

return _M
