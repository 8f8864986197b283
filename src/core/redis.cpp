#include "core/redis.hpp"

#include <cstring>

#include "core/hmac.hpp"

namespace provision_x {

namespace {

/*
 * The XADD arguments are built once and only the three per-record values
 * change: a table per record would be garbage for Lua to collect inside
 * a script that blocks Redis while it runs.
 */
constexpr char sink_script[] = R"lua(-- provision_x CDR sink
local xadd = {KEYS[1]}
if tonumber(ARGV[2]) > 0 then
    xadd = {KEYS[1], 'MAXLEN', '~', ARGV[2]}
end
local n = #xadd
xadd[n + 1] = '*'
xadd[n + 2] = 'line'
xadd[n + 4] = 'key'
xadd[n + 6] = 'dialect'
xadd[n + 7] = ARGV[3]
xadd[n + 8] = 'app'
local out = {}
for i = 2, #KEYS do
    local a = 4 + (i - 2) * 3
    if redis.call('SET', KEYS[i], '1', 'NX', 'EX', ARGV[1]) then
        xadd[n + 3] = ARGV[a]
        xadd[n + 5] = ARGV[a + 1]
        xadd[n + 9] = ARGV[a + 2]
        local id = redis.pcall('XADD', unpack(xadd))
        if type(id) == 'table' and id.err then
            redis.call('DEL', KEYS[i])
            return id
        end
        out[i - 1] = '1'
    else
        out[i - 1] = '0'
    end
end
return table.concat(out)
)lua";

constexpr char hex_digits[] = "0123456789abcdef";

size_t
decimal_size(uint64_t v) noexcept
{
    size_t n = 1;

    while (v >= 10) {
        v /= 10;
        n++;
    }

    return n;
}

char *
write_decimal(char *p, uint64_t v) noexcept
{
    size_t n = decimal_size(v);

    for (size_t i = n; i > 0; i--) {
        p[i - 1] = static_cast<char>('0' + v % 10);
        v /= 10;
    }

    return p + n;
}

char *
write_crlf(char *p) noexcept
{
    *p++ = '\r';
    *p++ = '\n';
    return p;
}

size_t
array_size(size_t n) noexcept
{
    return 1 + decimal_size(n) + 2;
}

char *
write_array(char *p, size_t n) noexcept
{
    *p++ = '*';
    return write_crlf(write_decimal(p, n));
}

size_t
bulk_size(size_t len) noexcept
{
    return 1 + decimal_size(len) + 2 + len + 2;
}

char *
write_bulk_header(char *p, size_t len) noexcept
{
    *p++ = '$';
    return write_crlf(write_decimal(p, len));
}

char *
write_bulk(char *p, std::string_view s) noexcept
{
    p = write_bulk_header(p, s.size());
    std::memcpy(p, s.data(), s.size());
    return write_crlf(p + s.size());
}

size_t
bulk_number_size(uint64_t v) noexcept
{
    return bulk_size(decimal_size(v));
}

char *
write_bulk_number(char *p, uint64_t v) noexcept
{
    p = write_bulk_header(p, decimal_size(v));
    return write_crlf(write_decimal(p, v));
}

size_t
dedup_key_size(const redis_sink_params &p) noexcept
{
    return bulk_size(p.prefix.size() + 2 * redis_digest_size);
}

char *
write_dedup_key(char *p, const redis_sink_params &params,
                const unsigned char *digest) noexcept
{
    p = write_bulk_header(p, params.prefix.size() + 2 * redis_digest_size);
    std::memcpy(p, params.prefix.data(), params.prefix.size());
    p += params.prefix.size();

    for (size_t i = 0; i < redis_digest_size; i++) {
        *p++ = hex_digits[digest[i] >> 4];
        *p++ = hex_digits[digest[i] & 0xf];
    }

    return write_crlf(p);
}

constexpr std::string_view cmd_eval = "EVAL";
constexpr std::string_view cmd_evalsha = "EVALSHA";

/* A line in the reply: the bytes up to CRLF, or nullptr if none yet. */
const char *
find_crlf(const char *p, const char *last) noexcept
{
    for (; p + 1 < last; p++) {
        if (p[0] == '\r' && p[1] == '\n') {
            return p;
        }
    }

    return nullptr;
}

bool
parse_integer(const char *p, const char *last, int64_t &out) noexcept
{
    bool negative = false;

    if (p < last && *p == '-') {
        negative = true;
        p++;
    }

    if (p == last) {
        return false;
    }

    uint64_t v = 0;

    for (; p < last; p++) {
        if (*p < '0' || *p > '9') {
            return false;
        }

        v = v * 10 + static_cast<uint64_t>(*p - '0');

        if (v > static_cast<uint64_t>(INT64_MAX)) {
            return false;
        }
    }

    out = negative ? -static_cast<int64_t>(v) : static_cast<int64_t>(v);
    return true;
}

} // namespace

std::string_view
redis_sink_script() noexcept
{
    return std::string_view(sink_script, sizeof(sink_script) - 1);
}

bool
redis_sink_script_sha1(char out[redis_sha1_hex_size]) noexcept
{
    sha1_digest md;

    static_assert(2 * std::tuple_size_v<sha1_digest> == redis_sha1_hex_size);

    if (!sha1({redis_sink_script()}, md)) {
        return false;
    }

    for (size_t i = 0; i < md.size(); i++) {
        out[2 * i] = hex_digits[md[i] >> 4];
        out[2 * i + 1] = hex_digits[md[i] & 0xf];
    }

    return true;
}

size_t
redis_sink_command_size(const redis_sink_params &p,
                        const redis_sink_record *records, size_t n) noexcept
{
    size_t size = array_size(7 + 4 * n);

    size +=
        p.eval ? bulk_size(cmd_eval.size()) + bulk_size(sizeof(sink_script) - 1)
               : bulk_size(cmd_evalsha.size()) + bulk_size(redis_sha1_hex_size);
    size += bulk_number_size(1 + n);
    size += bulk_size(p.stream.size()) + n * dedup_key_size(p);
    size += bulk_number_size(p.ttl) + bulk_number_size(p.maxlen);
    size += bulk_size(p.dialect.size());

    for (size_t i = 0; i < n; i++) {
        size += bulk_size(records[i].line.size())
                + bulk_size(records[i].key.size())
                + bulk_size(records[i].app.size());
    }

    return size;
}

char *
redis_sink_command(char *buf, const redis_sink_params &p,
                   const redis_sink_record *records, size_t n) noexcept
{
    char *b = write_array(buf, 7 + 4 * n);

    if (p.eval) {
        b = write_bulk(b, cmd_eval);
        b = write_bulk(b, redis_sink_script());

    } else {
        b = write_bulk(b, cmd_evalsha);
        b = write_bulk(b, std::string_view(p.sha1, redis_sha1_hex_size));
    }

    b = write_bulk_number(b, 1 + n);
    b = write_bulk(b, p.stream);

    for (size_t i = 0; i < n; i++) {
        b = write_dedup_key(b, p, records[i].digest);
    }

    b = write_bulk_number(b, p.ttl);
    b = write_bulk_number(b, p.maxlen);
    b = write_bulk(b, p.dialect);

    for (size_t i = 0; i < n; i++) {
        b = write_bulk(b, records[i].line);
        b = write_bulk(b, records[i].key);
        b = write_bulk(b, records[i].app);
    }

    return b;
}

size_t
redis_auth_size(std::string_view user, std::string_view password) noexcept
{
    size_t size = array_size(user.empty() ? 2 : 3) + bulk_size(4)
                  + bulk_size(password.size());

    return user.empty() ? size : size + bulk_size(user.size());
}

char *
redis_auth(char *buf, std::string_view user, std::string_view password) noexcept
{
    char *b = write_array(buf, user.empty() ? 2 : 3);

    b = write_bulk(b, "AUTH");

    if (!user.empty()) {
        b = write_bulk(b, user);
    }

    return write_bulk(b, password);
}

size_t
redis_select_size(uint64_t db) noexcept
{
    return array_size(2) + bulk_size(6) + bulk_number_size(db);
}

char *
redis_select(char *buf, uint64_t db) noexcept
{
    char *b = write_array(buf, 2);

    b = write_bulk(b, "SELECT");
    return write_bulk_number(b, db);
}

resp_rc
resp_parse(const char *p, size_t n, resp_reply &out, size_t *used) noexcept
{
    const char *last = p + n;

    if (n == 0) {
        return resp_rc::incomplete;
    }

    const char *eol = find_crlf(p + 1, last);
    if (eol == nullptr) {
        return resp_rc::incomplete;
    }

    const char *text = p + 1;
    size_t text_len = static_cast<size_t>(eol - text);

    switch (*p) {
    case '+':
    case '-':
        out.type = (*p == '+') ? resp_type::simple : resp_type::error;
        out.text = std::string_view(text, text_len);
        out.integer = 0;
        *used = static_cast<size_t>(eol + 2 - p);
        return resp_rc::ok;

    case ':':
    case '*':
    case '$':
        break;

    default:
        return resp_rc::invalid;
    }

    int64_t v;

    if (!parse_integer(text, eol, v)) {
        return resp_rc::invalid;
    }

    out.text = std::string_view();
    out.integer = v;

    if (*p == ':') {
        out.type = resp_type::integer;
        *used = static_cast<size_t>(eol + 2 - p);
        return resp_rc::ok;
    }

    if (v == -1) {
        out.type = resp_type::null;
        out.integer = 0;
        *used = static_cast<size_t>(eol + 2 - p);
        return resp_rc::ok;
    }

    if (v < 0) {
        return resp_rc::invalid;
    }

    if (*p == '*') {
        out.type = resp_type::array;
        *used = static_cast<size_t>(eol + 2 - p);
        return resp_rc::ok;
    }

    if (v > resp_max_bulk) {
        return resp_rc::invalid;
    }

    const char *data = eol + 2;
    size_t len = static_cast<size_t>(v);

    if (static_cast<size_t>(last - data) < len + 2) {
        return resp_rc::incomplete;
    }

    if (data[len] != '\r' || data[len + 1] != '\n') {
        return resp_rc::invalid;
    }

    out.type = resp_type::bulk;
    out.text = std::string_view(data, len);
    *used = static_cast<size_t>(data + len + 2 - p);
    return resp_rc::ok;
}

} // namespace provision_x
