/*
 * The snapshot file of a queue zone ("snapshot=PATH"): written by the
 * master when nginx stops gracefully, after the last worker has exited,
 * and read back into the zone when nginx starts again.
 *
 * Format (native byte order: the file is meant for the same host):
 *   header   "PXQSNAP1", uint32 version, uint32 0
 *   records  uint32 length, uint32 deliveries, int64 arrival (unix
 *            seconds), then the record's bytes
 *   trailer  "PXQSEND1", uint64 record count, uint32 CRC32 of every byte
 *            before the trailer, uint32 0
 * Records under a lease are written as visible: their consumer never got
 * to acknowledge them in this life of nginx (at-least-once).
 *
 * The file is written to PATH.tmp, synced and renamed over PATH, so a
 * crash while writing leaves the previous file or none, never half a one.
 * A file that is there when nginx stops was not read at start (another
 * master wrote it, e.g. during a binary upgrade): its records are written
 * first, never overwritten.
 *
 * After a restore, once the new cycle is sure to run, the file becomes
 * PATH.restored, so a crash later cannot silently bring back records that
 * were consumed since; the next graceful stop deletes it.  A start that
 * finds PATH.restored but no PATH knows the previous run did not stop
 * gracefully and says so, leaving the decision to restore it (with the
 * duplicates that may bring) to the operator.
 */

#include "ngx_http_provision_x_queue_zone.hpp"

#include <cstring>

namespace {

using ctx_t = ngx_http_provision_x_queue_ctx_t;
using rec_t = provision_x::ring_rec;

constexpr char file_magic[8] = {'P', 'X', 'Q', 'S', 'N', 'A', 'P', '1'};
constexpr char end_magic[8] = {'P', 'X', 'Q', 'S', 'E', 'N', 'D', '1'};
constexpr uint32_t file_version = 1;

struct file_header_t {
    char magic[8];
    uint32_t version;
    uint32_t reserved;
};

struct file_record_t {
    uint32_t len;
    uint32_t deliveries;
    int64_t enqueued;
};

struct file_trailer_t {
    char magic[8];
    uint64_t count;
    uint32_t crc;
    uint32_t reserved;
};

static_assert(sizeof(file_header_t) == 16 && sizeof(file_record_t) == 16 &&
              sizeof(file_trailer_t) == 24);

/* A snapshot read into memory and checked; records are parsed lazily. */
struct snapshot_t {
    u_char *data;
    size_t size;
    uint64_t count;
};

/* Reads and checks a whole file.  NGX_DECLINED: there is none. */
ngx_int_t
snapshot_load(const ngx_str_t *path, snapshot_t *snap, const char **why,
              ngx_log_t *log) noexcept
{
    snap->data = NULL;
    *why = NULL;

    /* never through a link: the file is the master's own or nothing */
    ngx_fd_t fd = open(reinterpret_cast<char *>(path->data),
                       O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
    if (fd == NGX_INVALID_FILE) {
        if (ngx_errno == NGX_ENOENT) {
            return NGX_DECLINED;
        }

        if (ngx_errno == ELOOP) {
            *why = "it is a symbolic link";
            return NGX_ERROR;
        }

        ngx_log_error(NGX_LOG_EMERG, log, ngx_errno,
                      ngx_open_file_n " snapshot \"%V\" failed", path);
        return NGX_ERROR;
    }

    ngx_int_t rc = NGX_ERROR;
    ngx_file_info_t fi;
    ngx_file_t file;
    ssize_t n;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_EMERG, log, ngx_errno,
                      ngx_fd_info_n " snapshot \"%V\" failed", path);
        goto done;
    }

    /* what another user wrote is no record of ours */
    if (!ngx_is_file(&fi) || fi.st_uid != geteuid()) {
        *why = "it is not a regular file of the user nginx's master runs as";
        goto done;
    }

    snap->size = ngx_file_size(&fi);

    if (snap->size < sizeof(file_header_t) + sizeof(file_trailer_t)) {
        *why = "too short";
        goto done;
    }

    snap->data = static_cast<u_char *>(ngx_alloc(snap->size, log));
    if (snap->data == NULL) {
        goto done;
    }

    ngx_memzero(&file, sizeof(ngx_file_t));
    file.fd = fd;
    file.name = *path;
    file.log = log;

    n = ngx_read_file(&file, snap->data, snap->size, 0);
    if (n == NGX_ERROR) {
        goto done;
    }

    if (static_cast<size_t>(n) != snap->size) {
        *why = "shorter than its size";
        goto done;
    }

    {
        file_header_t h;
        file_trailer_t t;
        size_t body = snap->size - sizeof(file_trailer_t);

        ngx_memcpy(&h, snap->data, sizeof(h));
        ngx_memcpy(&t, snap->data + body, sizeof(t));

        if (ngx_memcmp(h.magic, file_magic, sizeof(file_magic)) != 0 ||
            h.version != file_version) {
            *why = "not a queue snapshot of this version";
            goto done;
        }

        if (ngx_memcmp(t.magic, end_magic, sizeof(end_magic)) != 0) {
            *why = "truncated";
            goto done;
        }

        if (ngx_crc32_long(snap->data, body) != t.crc) {
            *why = "checksum mismatch";
            goto done;
        }

        /* walk once, so a restore never stops half-way on a bad record */
        uint64_t count = 0;
        size_t off = sizeof(file_header_t);

        while (off < body) {
            file_record_t r;

            if (body - off < sizeof(r)) {
                *why = "bad record header";
                goto done;
            }

            ngx_memcpy(&r, snap->data + off, sizeof(r));
            off += sizeof(r);

            if (body - off < r.len) {
                *why = "bad record length";
                goto done;
            }

            off += r.len;
            count++;
        }

        if (count != t.count) {
            *why = "record count mismatch";
            goto done;
        }

        snap->count = count;
    }

    rc = NGX_OK;

done:

    if (rc != NGX_OK && snap->data != NULL) {
        ngx_free(snap->data);
        snap->data = NULL;
    }

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                      ngx_close_file_n " \"%V\" failed", path);
    }

    return rc;
}

/* Calls handler for every record of a checked snapshot. */
template <typename F>
ngx_int_t
snapshot_each(const snapshot_t *snap, F handler) noexcept
{
    size_t body = snap->size - sizeof(file_trailer_t);
    size_t off = sizeof(file_header_t);

    while (off < body) {
        file_record_t r;

        ngx_memcpy(&r, snap->data + off, sizeof(r));
        off += sizeof(r);

        if (handler(r, snap->data + off) != NGX_OK) {
            return NGX_ERROR;
        }

        off += r.len;
    }

    return NGX_OK;
}

/* Buffered writer that keeps the running CRC. */
struct writer_t {
    ngx_fd_t fd;
    u_char *buf;
    size_t len;
    size_t size;
    uint32_t crc;
    uint64_t count;
    bool failed;
    ngx_log_t *log;
    const char *path;
};

void
writer_flush(writer_t *w) noexcept
{
    u_char *p = w->buf;

    while (!w->failed && w->len > 0) {
        ssize_t n = ngx_write_fd(w->fd, p, w->len);

        if (n == -1) {
            if (ngx_errno == NGX_EINTR) {
                continue;
            }

            ngx_log_error(NGX_LOG_ALERT, w->log, ngx_errno,
                          ngx_write_fd_n " \"%s\" failed", w->path);
            w->failed = true;
            break;
        }

        p += n;
        w->len -= n;
    }

    w->len = 0;
}

void
writer_put(writer_t *w, const void *data, size_t len, bool crc) noexcept
{
    auto *p = static_cast<const u_char *>(data);

    if (crc) {
        ngx_crc32_update(&w->crc, const_cast<u_char *>(p), len);
    }

    while (len > 0 && !w->failed) {
        size_t n = ngx_min(len, w->size - w->len);

        ngx_memcpy(w->buf + w->len, p, n);
        w->len += n;
        p += n;
        len -= n;

        if (w->len == w->size) {
            writer_flush(w);
        }
    }
}

void
writer_record(writer_t *w, uint32_t len, uint32_t deliveries, int64_t enqueued,
              const u_char *bytes) noexcept
{
    file_record_t r{len, deliveries, enqueued};

    writer_put(w, &r, sizeof(r), true);
    writer_put(w, bytes, len, true);
    w->count++;
}

bool
save_record(void *data, const rec_t *rec, const u_char *bytes) noexcept
{
    auto *w = static_cast<writer_t *>(data);

    writer_record(w, rec->len, rec->deliveries, rec->enqueued, bytes);

    return !w->failed;
}

/* a path with a suffix, NUL-terminated, in the heap */
u_char *
path_with(const ngx_str_t *path, const char *suffix, ngx_log_t *log) noexcept
{
    size_t len = ngx_strlen(suffix);
    auto *p = static_cast<u_char *>(ngx_alloc(path->len + len + 1, log));

    if (p != NULL) {
        ngx_memcpy(ngx_cpymem(p, path->data, path->len), suffix, len + 1);
    }

    return p;
}

void
sync_dir(const ngx_str_t *path, ngx_log_t *log) noexcept
{
    u_char *dir = path_with(path, "", log);
    if (dir == NULL) {
        return;
    }

    u_char *slash = reinterpret_cast<u_char *>(
        std::strrchr(reinterpret_cast<char *>(dir), '/'));

    if (slash != NULL) {
        *(slash == dir ? slash + 1 : slash) = '\0';

        int fd = open(reinterpret_cast<char *>(dir), O_RDONLY | O_DIRECTORY);

        if (fd != -1) {
            /* the rename itself must reach the disk */
            (void) fsync(fd);
            (void) close(fd);
        }
    }

    ngx_free(dir);
}

} // namespace

ngx_int_t
ngx_http_provision_x_queue_restore(ctx_t *ctx, ngx_log_t *log) noexcept
{
    snapshot_t snap;
    const char *why;
    ngx_str_t *name = &ctx->shm_zone->shm.name;

    ngx_int_t rc = snapshot_load(&ctx->snapshot, &snap, &why, log);

    if (rc == NGX_DECLINED) {
        u_char *restored = path_with(&ctx->snapshot, ".restored", log);
        ngx_file_info_t fi;

        if (restored != NULL && ngx_file_info(restored, &fi) == 0) {
            ngx_log_error(NGX_LOG_WARN, log, 0,
                          "provision_x: queue zone \"%V\": nginx did not "
                          "stop gracefully after restoring \"%s\": the "
                          "records of that run are lost; those of the "
                          "file may have been consumed since, so it is "
                          "not restored again (rename it to \"%V\" to "
                          "restore it, duplicates included)",
                          name, restored, &ctx->snapshot);
        }

        ngx_free(restored);
        return NGX_OK;
    }

    if (rc != NGX_OK) {
        if (why != NULL) {
            ngx_log_error(NGX_LOG_EMERG, log, 0,
                          "snapshot \"%V\" of queue zone \"%V\" is damaged "
                          "(%s); move it away to start with an empty queue",
                          &ctx->snapshot, name, why);
        }

        return NGX_ERROR;
    }

    uint64_t bytes = 0;
    bool fits = true;

    (void) snapshot_each(
        &snap,
        [&](const file_record_t &r, const u_char *p) noexcept -> ngx_int_t {
            bytes += r.len;

            if (fits && !provision_x::ring_append(ctx->sh, p, r.len,
                                                  r.deliveries, r.enqueued)) {
                fits = false;
            }

            return NGX_OK;
        });

    ngx_free(snap.data);

    if (!fits) {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "snapshot \"%V\" holds %uL records (%uL bytes) that "
                      "do not fit queue zone \"%V\"; make the zone larger",
                      &ctx->snapshot, snap.count, bytes, name);
        return NGX_ERROR;
    }

    ctx->restored = 1;

    ngx_log_error(NGX_LOG_NOTICE, log, 0,
                  "provision_x: queue zone \"%V\": %uL records restored "
                  "from snapshot \"%V\"",
                  name, snap.count, &ctx->snapshot);

    return NGX_OK;
}

void
ngx_http_provision_x_queue_restored(ctx_t *ctx, ngx_log_t *log) noexcept
{
    u_char *aside = path_with(&ctx->snapshot, ".restored", log);

    if (aside == NULL) {
        return;
    }

    if (ngx_rename_file(ctx->snapshot.data, aside) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                      ngx_rename_file_n " \"%V\" to \"%s\" failed",
                      &ctx->snapshot, aside);
    }

    ngx_free(aside);
    ctx->restored = 0;
}

/* a graceful stop: what a restore set aside is history now */
static void
ngx_http_provision_x_queue_forget_restored(ctx_t *ctx, ngx_log_t *log) noexcept
{
    u_char *aside = path_with(&ctx->snapshot, ".restored", log);

    if (aside != NULL && ngx_delete_file(aside) == NGX_FILE_ERROR &&
        ngx_errno != NGX_ENOENT) {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                      ngx_delete_file_n " \"%s\" failed", aside);
    }

    ngx_free(aside);
}

void
ngx_http_provision_x_queue_save(ctx_t *ctx, ngx_log_t *log) noexcept
{
    provision_x::ring_header *sh = ctx->sh;
    ngx_str_t *name = &ctx->shm_zone->shm.name;

    /* a worker killed by "nginx -s stop" may have died mid-update */
    ngx_http_provision_x_queue_repair(ctx, log);

    if (ctx->snapshot.len == 0) {
        if (sh->depth) {
            ngx_log_error(NGX_LOG_WARN, log, 0,
                          "provision_x: queue zone \"%V\": %uL records not "
                          "acknowledged by a consumer are dropped at exit; "
                          "\"snapshot=\" keeps them",
                          name, sh->depth);
        }

        return;
    }

    snapshot_t prior;
    const char *why;
    ngx_int_t prior_rc = snapshot_load(&ctx->snapshot, &prior, &why, log);
    u_char *tmp = path_with(&ctx->snapshot, ".tmp", log);

    if (tmp == NULL) {
        goto failed;
    }

    if (prior_rc == NGX_ERROR) {
        /* keep what cannot be read for a human; never overwrite it */
        u_char *aside = path_with(&ctx->snapshot, ".damaged", log);

        if (aside == NULL ||
            ngx_rename_file(ctx->snapshot.data, aside) == NGX_FILE_ERROR) {
            ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                          "provision_x: snapshot \"%V\" is unreadable (%s) "
                          "and could not be moved aside",
                          &ctx->snapshot, why ? why : "I/O error");
            ngx_free(aside);
            goto failed;
        }

        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      "provision_x: unreadable snapshot \"%V\" (%s) moved "
                      "to \"%s\"",
                      &ctx->snapshot, why ? why : "I/O error", aside);
        ngx_free(aside);

    } else if (prior_rc == NGX_DECLINED && sh->depth == 0) {
        ngx_http_provision_x_queue_forget_restored(ctx, log);
        ngx_free(tmp);
        return;
    }

    {
        u_char buf[65536];
        writer_t w{};

        /*
         * A new file of our own, never an old one or the target of a link
         * someone planted: the master writes it as root.
         */
        if (ngx_delete_file(tmp) == NGX_FILE_ERROR && ngx_errno != NGX_ENOENT) {
            ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                          ngx_delete_file_n " stale \"%s\" failed", tmp);
            goto failed;
        }

        ngx_fd_t fd = open(reinterpret_cast<char *>(tmp),
                           O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);

        if (fd == NGX_INVALID_FILE) {
            ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                          ngx_open_file_n " \"%s\" failed", tmp);
            goto failed;
        }

        w.fd = fd;
        w.buf = buf;
        w.size = sizeof(buf);
        w.log = log;
        w.path = reinterpret_cast<const char *>(tmp);
        ngx_crc32_init(w.crc);

        file_header_t h{};
        ngx_memcpy(h.magic, file_magic, sizeof(file_magic));
        h.version = file_version;
        writer_put(&w, &h, sizeof(h), true);

        uint64_t prior_count = 0;

        if (prior_rc == NGX_OK) {
            prior_count = prior.count;
            (void) snapshot_each(&prior,
                                 [&](const file_record_t &r,
                                     const u_char *p) noexcept -> ngx_int_t {
                                     writer_record(&w, r.len, r.deliveries,
                                                   r.enqueued, p);
                                     return w.failed ? NGX_ERROR : NGX_OK;
                                 });
        }

        (void) provision_x::ring_walk(sh, save_record, &w);

        file_trailer_t t{};
        ngx_memcpy(t.magic, end_magic, sizeof(end_magic));
        t.count = w.count;
        ngx_crc32_final(w.crc);
        t.crc = w.crc;
        writer_put(&w, &t, sizeof(t), false);
        writer_flush(&w);

        if (!w.failed && fsync(fd) == -1) {
            ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                          "fsync() \"%s\" failed", tmp);
            w.failed = true;
        }

        if (ngx_close_file(fd) == NGX_FILE_ERROR) {
            ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                          ngx_close_file_n " \"%s\" failed", tmp);
            w.failed = true;
        }

        if (w.failed) {
            (void) ngx_delete_file(tmp);
            goto failed;
        }

        if (ngx_rename_file(tmp, ctx->snapshot.data) == NGX_FILE_ERROR) {
            ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                          ngx_rename_file_n " \"%s\" to \"%V\" failed", tmp,
                          &ctx->snapshot);
            (void) ngx_delete_file(tmp);
            goto failed;
        }

        sync_dir(&ctx->snapshot, log);
        ngx_http_provision_x_queue_forget_restored(ctx, log);

        ngx_log_error(NGX_LOG_NOTICE, log, 0,
                      "provision_x: queue zone \"%V\": %uL records written "
                      "to snapshot \"%V\"%s",
                      name, w.count, &ctx->snapshot,
                      prior_count ? " (with those of an earlier snapshot)"
                                  : "");
    }

    ngx_free(tmp);

    if (prior_rc == NGX_OK) {
        ngx_free(prior.data);
    }

    return;

failed:

    ngx_log_error(NGX_LOG_ALERT, log, 0,
                  "provision_x: queue zone \"%V\": snapshot not written, "
                  "%uL records are lost",
                  name, sh->depth);

    ngx_free(tmp);

    if (prior_rc == NGX_OK) {
        ngx_free(prior.data);
    }
}
