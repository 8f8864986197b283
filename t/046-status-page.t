# The status page, without a browser: which clients get HTML (an Accept
# that prefers text/html to JSON and text/plain, or ?format=html), that
# the page is the same static text with or without a key and holds no
# key, that its Content-Security-Policy allows exactly its own style and
# script (by SHA-256) and nothing else, and that JSON and the Prometheus
# text still need a key and say "Vary: Accept".

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/helper";

use Digest::SHA qw(sha256_base64);
use Test::More;

use PXNginx;

my $secrets = "$FindBin::Bin/secrets";
chmod 0600, glob "$secrets/*.key";

my $nginx = PXNginx->new(name => 'status-page', http => <<"_EOC_",
    provision_x_nonce_zone zone=nonces:1m;
    provision_x_api_key $secrets/api-a.key;
_EOC_
    server => <<'_EOC_');
        location = /px/status { provision_x_status; }
_EOC_
ok $nginx->start, 'nginx starts' or BAIL_OUT($nginx->error_log);

my $key = 'consumer-key-one-7f3a9c';
my @auth = (Authorization => "Bearer $key");

my $chromium = 'text/html,application/xhtml+xml,application/xml;q=0.9,'
    . 'image/avif,image/webp,image/apng,*/*;q=0.8,'
    . 'application/signed-exchange;v=b3;q=0.7';
my $prometheus = 'application/openmetrics-text;version=1.0.0,'
    . 'application/openmetrics-text;version=0.0.1;q=0.75,'
    . 'text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

sub kind {
    my ($res) = @_;
    my $type = $res->header('Content-Type') // '';
    return $res->code != 200 ? $res->code
         : $type =~ m{^text/html} ? 'html'
         : $type =~ m{^text/plain} ? 'prometheus'
         : $type =~ m{^application/json} ? 'json' : "?$type";
}

# [what, uri, Accept or undef, with the key, expected]
for my $case (
    ['a browser, no key', '/px/status', $chromium, 0, 'html'],
    ['a browser with a key', '/px/status', $chromium, 1, 'html'],
    ['Prometheus', '/px/status', $prometheus, 1, 'prometheus'],
    ['curl (*/*)', '/px/status', '*/*', 1, 'json'],
    ['no Accept', '/px/status', undef, 1, 'json'],
    ['JSON asked for', '/px/status', 'application/json', 1, 'json'],
    ['HTML refused by q=0', '/px/status', 'text/html;q=0,*/*', 1, 'json'],
    ['HTML no better than JSON', '/px/status',
     'text/html;q=0.5,application/json;q=0.5', 1, 'json'],
    ['HTML preferred to text/plain', '/px/status',
     'text/plain;q=0.5,text/html', 0, 'html'],
    ['?format=html', '/px/status?format=html', '*/*', 0, 'html'],
    ['?format=json wins over Accept', '/px/status?format=json', $chromium,
     1, 'json'],
    ['?format=prometheus wins over Accept', '/px/status?format=prometheus',
     $chromium, 1, 'prometheus'],
    ['JSON without a key', '/px/status', 'application/json', 0, 401],
    ['?format=json without a key', '/px/status?format=json', $chromium, 0,
     401],
) {
    my ($what, $uri, $accept, $with_key, $want) = @$case;
    my @h = ($with_key ? @auth : (), defined $accept ? (Accept => $accept) : ());
    is kind($nginx->request(GET => $uri, headers => \@h)), $want,
        "$what: $want";
}

my $page = $nginx->request(GET => '/px/status', headers => [Accept => $chromium]);
my $with_key = $nginx->request(GET => '/px/status',
                               headers => [Accept => $chromium, @auth]);
is $with_key->content, $page->content, 'the same page with or without a key';
unlike $page->content, qr/\Q$key\E/, 'it holds no key';
like $page->content, qr{<title>provision_x status</title>}, 'it is the page';
unlike $page->content, qr{<(?:script|link|img)[^>]+(?:src|href)="(?!data:)}i,
    'it loads nothing from anywhere';
is $page->header('Content-Type'), 'text/html; charset=utf-8', 'HTML, UTF-8';
is $page->header('Cache-Control'), 'no-store', 'not stored';
is $page->header('X-Content-Type-Options'), 'nosniff', 'nosniff';
is $page->header('Referrer-Policy'), 'no-referrer', 'no referrer';
is $page->header('Vary'), 'Accept', 'Vary: Accept';

my $csp = $page->header('Content-Security-Policy') // '';
my %policy = map { /^\s*(\S+)\s*(.*?)\s*$/ } split /;/, $csp;
my ($style) = $page->content =~ m{^<style>(.*?)</style>}ms;
my ($script) = $page->content =~ m{^<script>(.*?)</script>}ms;
my $hash = sub {    # of the bytes as served (UTF-8), as the browser does
    my $b64 = sha256_base64(shift);
    $b64 .= '=' while length($b64) % 4;
    return "'sha256-$b64'";
};
is $policy{'default-src'}, "'none'", 'CSP: nothing by default';
is $policy{'script-src'}, $hash->($script),
    'CSP: the page\'s own script, by its hash';
is $policy{'style-src'}, $hash->($style),
    'CSP: the page\'s own style, by its hash';
is $policy{'connect-src'}, "'self'", 'CSP: polls go to this server only';
is $policy{'form-action'}, "'none'",
    'CSP: the key form can never be submitted into a URL';
is $policy{'frame-ancestors'}, "'none'", 'CSP: not framed';
unlike $page->content, qr/\sstyle=|\son[a-z]+=/i,
    'no style attribute or inline handler the policy would block';

my $head = $nginx->request(HEAD => '/px/status', headers => [Accept => $chromium]);
is $head->code, 200, 'HEAD: 200';
is $head->content, '', 'HEAD: no body';
is $nginx->request(POST => '/px/status', headers => [Accept => $chromium])->code,
    405, 'POST: 405';

my $json = $nginx->request(GET => '/px/status', headers => \@auth);
is $json->header('Vary'), 'Accept', 'JSON: Vary: Accept';
is $nginx->request(GET => '/px/status?format=prometheus', headers => \@auth)
    ->header('Vary'), 'Accept', 'Prometheus: Vary: Accept';

unlike $nginx->error_log, qr/\Q$key\E/, 'no key in the error log';

done_testing();
