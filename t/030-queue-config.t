# The queue zone, the consumer API and the API keys refuse bad
# configurations at load time, with a message that says what to do.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/helper";

use File::Temp qw(tempdir);
use Test::Nginx::Socket 'no_plan';
use PXLogs ();

PXLogs::refuse_crashes();
use PXQueue;

$ENV{TEST_NGINX_SECRETS} = "$FindBin::Bin/secrets";
chmod 0600, glob "$FindBin::Bin/secrets/*.key";
chmod 0644, "$FindBin::Bin/secrets/world-readable.key";

# snapshots for the restore cases: one damaged, one too big for its zone
my $dir = tempdir(CLEANUP => 1);
$ENV{TEST_NGINX_QUEUE_DIR} = $dir;
write_snapshot("$dir/big.snap", map { 'x' x 1000 } 1 .. 100);
write_snapshot("$dir/damaged.snap", 'a', 'b');
{
    open my $fh, '+<:raw', "$dir/damaged.snap" or die $!;
    seek $fh, 20, 0;
    print $fh 'Z';
    close $fh;
}

no_shuffle();
run_tests();

__DATA__

=== TEST 1: a queue zone without zone=
--- http_config
    provision_x_queue_zone snapshot=/tmp/q.snap;
--- config
--- must_die
--- error_log
"provision_x_queue_zone" must have "zone" parameter



=== TEST 2: an unknown parameter
--- http_config
    provision_x_queue_zone zone=q:1m size=2m;
--- config
--- must_die
--- error_log
invalid parameter "size=2m", expected "zone=name:size" or "snapshot=file"



=== TEST 3: a queue zone that is too small
--- http_config
    provision_x_queue_zone zone=q:16k;
--- config
--- must_die
--- error_log
zone "zone=q:16k" is too small



=== TEST 4: two queue zones of one name
--- http_config
    provision_x_queue_zone zone=q:1m;
    provision_x_queue_zone zone=q:1m;
--- config
--- must_die
--- error_log
duplicate zone "q"



=== TEST 5: a queue zone named like a nonce zone
--- http_config
    provision_x_nonce_zone zone=z:1m;
    provision_x_queue_zone zone=z:1m;
--- config
--- must_die
--- error_log
the shared memory zone "z" is already declared for a different use



=== TEST 6: a snapshot in a directory that does not exist
--- http_config
    provision_x_queue_zone zone=q:1m snapshot=/nonexistent/dir/q.snap;
--- config
--- must_die
--- error_log
snapshot directory "/nonexistent/dir" is not usable



=== TEST 7: two zones with one snapshot file
--- http_config
    provision_x_queue_zone zone=a:1m snapshot=$TEST_NGINX_QUEUE_DIR/q.snap;
    provision_x_queue_zone zone=b:1m snapshot=$TEST_NGINX_QUEUE_DIR/q.snap;
--- config
--- must_die
--- error_log
q.snap" is already used by queue zone "a"



=== TEST 8: a damaged snapshot stops nginx instead of being dropped
--- http_config
    provision_x_queue_zone zone=q:1m
                           snapshot=$TEST_NGINX_QUEUE_DIR/damaged.snap;
--- config
--- must_die
--- error_log
damaged.snap" of queue zone "q" is damaged (checksum mismatch); move it away to start with an empty queue



=== TEST 9: a snapshot larger than its zone stops nginx
--- http_config
    provision_x_queue_zone zone=q:64k snapshot=$TEST_NGINX_QUEUE_DIR/big.snap;
--- config
--- must_die
--- error_log
big.snap" holds 100 records (100000 bytes) that do not fit queue zone "q"; make the zone larger



=== TEST 10: a consumer of a zone that is not defined
--- config
    location /q {
        provision_x_queue_consume nope;
        provision_x_api_key $TEST_NGINX_SECRETS/api-a.key;
    }
--- must_die
--- error_log
"provision_x_queue_consume" names queue zone "nope", which is not defined: add "provision_x_queue_zone zone=nope:size"



=== TEST 11: a consumer of a nonce zone
--- http_config
    provision_x_nonce_zone zone=n:1m;
--- config
    location /q {
        provision_x_queue_consume n;
        provision_x_api_key $TEST_NGINX_SECRETS/api-a.key;
    }
--- must_die
--- error_log
the shared memory zone "n" is already declared for a different use



=== TEST 12: a consumer without an API key
--- http_config
    provision_x_queue_zone zone=q:1m;
--- config
    location /q { provision_x_queue_consume q; }
--- must_die
--- error_log
"provision_x_queue_consume" needs "provision_x_api_key"



=== TEST 13: bad consumer parameters
--- http_config
    provision_x_queue_zone zone=q:1m;
--- config
    location /q {
        provision_x_queue_consume q lease=0s;
        provision_x_api_key $TEST_NGINX_SECRETS/api-a.key;
    }
--- must_die
--- error_log
invalid lease "lease=0s", expected at least 1s



=== TEST 14: max out of range
--- http_config
    provision_x_queue_zone zone=q:1m;
--- config
    location /q {
        provision_x_queue_consume q max=0;
        provision_x_api_key $TEST_NGINX_SECRETS/api-a.key;
    }
--- must_die
--- error_log
invalid max "max=0", expected 1 to 10000



=== TEST 15: an unknown consumer parameter
--- http_config
    provision_x_queue_zone zone=q:1m;
--- config
    location /q {
        provision_x_queue_consume q timeout=5s;
        provision_x_api_key $TEST_NGINX_SECRETS/api-a.key;
    }
--- must_die
--- error_log
invalid parameter "timeout=5s", expected "lease=time", "max=number" or "wait=time"



=== TEST 16: an API key file that does not exist
--- config
    location /q { provision_x_api_key $TEST_NGINX_SECRETS/no-such.key; }
--- must_die
--- error_log
no-such.key" failed



=== TEST 17: an empty API key file
--- config
    location /q { provision_x_api_key $TEST_NGINX_SECRETS/empty.key; }
--- must_die
--- error_log
empty.key" is empty



=== TEST 18: a world-readable API key file loads with a warning
--- log_level: info
--- http_config
    provision_x_queue_zone zone=q:1m;
--- config
    location /q {
        provision_x_queue_consume q;
        provision_x_api_key $TEST_NGINX_SECRETS/world-readable.key;
    }
--- request
GET /q
--- more_headers
Authorization: Bearer world-readable-secret
--- error_code: 204
--- error_log
world-readable.key" is readable by everyone
--- no_error_log
world-readable-secret



=== TEST 19: API keys set twice in one location
--- config
    location /q {
        provision_x_api_key $TEST_NGINX_SECRETS/api-a.key;
        provision_x_api_key $TEST_NGINX_SECRETS/api-b.key;
    }
--- must_die
--- error_log
"provision_x_api_key" directive is duplicate



=== TEST 20: the consumer API only in a location
--- http_config
    provision_x_queue_zone zone=q:1m;
    provision_x_queue_consume q;
--- config
--- must_die
--- error_log
"provision_x_queue_consume" directive is not allowed here



=== TEST 21: provision_x_cdr with a queue that is not defined
--- config
    location = /cdr { provision_x_cdr huawei queue=missing; }
--- must_die
--- error_log
"provision_x_cdr" names queue zone "missing", which is not defined
