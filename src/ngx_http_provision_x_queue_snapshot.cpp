/*
 * The snapshot file of a queue zone ("snapshot=PATH"): written by the
 * master when nginx stops gracefully, after the last worker has exited,
 * and read back into the zone when nginx starts again.  The bytes of the
 * file are core/snapshot.hpp's; this file holds the policy.
 *
 * Records under a lease are written as visible: their consumer never got
 * to acknowledge them in this life of nginx (at-least-once).
 *
 * The file is written to PATH.tmp, synced and renamed over PATH, so a
 * crash while writing leaves the previous file or none, never half a one.
 * A file that is there when nginx stops was not read at start (another
 * master wrote it, e.g. during a binary upgrade): its records are written
 * first, never overwritten.  One that cannot be read is moved to
 * PATH.damaged for a human, never overwritten either.
 *
 * After a restore, once the new cycle is sure to run, the file becomes
 * PATH.restored, so a crash later cannot silently bring back records that
 * were consumed since; the next graceful stop deletes it.  A start that
 * finds PATH.restored but no PATH knows the previous run did not stop
 * gracefully and says so, leaving the decision to restore it (with the
 * duplicates that may bring) to the operator.
 *
 * The master reads and writes these files as root: never through a link,
 * only regular files of its own user, a new .tmp created with O_EXCL.
 */

#include "ngx_http_provision_x_queue_zone.hpp"

#include "core/snapshot.hpp"

#include <cstring>

namespace {

using ctx_t = ngx_http_provision_x_queue_ctx_t;

/* a path with a suffix, NUL-terminated, in the heap; freed with it */
class heap_path {
public:
    heap_path(const ngx_str_t *path, const char *suffix,
              ngx_log_t *log) noexcept
    {
        size_t len = ngx_strlen(suffix);

        p_ = static_cast<u_char *>(ngx_alloc(path->len + len + 1, log));

        if (p_ != NULL) {
            ngx_memcpy(ngx_cpymem(p_, path->data, path->len), suffix, len + 1);
        }
    }

    ~heap_path()
    {
        ngx_free(p_);
    }

    heap_path(const heap_path &) = delete;
    heap_path &operator=(const heap_path &) = delete;

    u_char *get() const noexcept
    {
        return p_;
    }

private:
    u_char *p_;
};

/* A file's bytes in the heap, freed with it. */
struct file_bytes {
    u_char *data = NULL;
    size_t size = 0;

    file_bytes() noexcept = default;

    ~file_bytes()
    {
        ngx_free(data);
    }

    file_bytes(const file_bytes &) = delete;
    file_bytes &operator=(const file_bytes &) = delete;
};

/* A descriptor closed (and a failed close logged) at scope end. */
class fd_guard {
public:
    fd_guard(ngx_fd_t fd, const u_char *path, ngx_log_t *log) noexcept
        : fd_(fd), path_(path), log_(log)
    {
    }

    ~fd_guard()
    {
        if (fd_ != NGX_INVALID_FILE) {
            (void) close_now();
        }
    }

    /* closes now; false (logged) when the close failed */
    bool close_now() noexcept
    {
        ngx_fd_t fd = fd_;

        fd_ = NGX_INVALID_FILE;

        if (ngx_close_file(fd) == NGX_FILE_ERROR) {
            ngx_log_error(NGX_LOG_ALERT, log_, ngx_errno,
                          ngx_close_file_n " \"%s\" failed", path_);
            return false;
        }

        return true;
    }

    fd_guard(const fd_guard &) = delete;
    fd_guard &operator=(const fd_guard &) = delete;

private:
    ngx_fd_t fd_;
    const u_char *path_;
    ngx_log_t *log_;
};

/*
 * Reads a whole file, which must be a regular file of the user the master
 * runs as and no link.  NGX_DECLINED: there is none; NGX_ERROR with *why
 * set: it is not one to read; without: an I/O error (logged).
 */
ngx_int_t
read_own_file(const ngx_str_t *path, file_bytes *out, const char **why,
              ngx_log_t *log) noexcept
{
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

    fd_guard guard(fd, path->data, log);
    ngx_file_info_t fi;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_EMERG, log, ngx_errno,
                      ngx_fd_info_n " snapshot \"%V\" failed", path);
        return NGX_ERROR;
    }

    /* what another user wrote is no record of ours */
    if (!ngx_is_file(&fi) || fi.st_uid != geteuid()) {
        *why = "it is not a regular file of the user nginx's master runs as";
        return NGX_ERROR;
    }

    out->size = ngx_file_size(&fi);

    /* too short to read: snapshot_check() says so */
    if (out->size < provision_x::snapshot_header_size
                        + provision_x::snapshot_trailer_size)
    {
        return NGX_OK;
    }

    out->data = static_cast<u_char *>(ngx_alloc(out->size, log));
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    ngx_file_t file;

    ngx_memzero(&file, sizeof(ngx_file_t));
    file.fd = fd;
    file.name = *path;
    file.log = log;

    ssize_t n = ngx_read_file(&file, out->data, out->size, 0);
    if (n == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (static_cast<size_t>(n) != out->size) {
        *why = "shorter than its size";
        return NGX_ERROR;
    }

    return NGX_OK;
}

/* A snapshot read into memory and checked. */
struct snapshot_t {
    file_bytes file;
    uint64_t count = 0;
};

/* Reads and checks a whole file.  NGX_DECLINED: there is none. */
ngx_int_t
snapshot_load(const ngx_str_t *path, snapshot_t *snap, const char **why,
              ngx_log_t *log) noexcept
{
    *why = NULL;

    ngx_int_t rc = read_own_file(path, &snap->file, why, log);
    if (rc != NGX_OK) {
        return rc;
    }

    provision_x::snapshot_error e = provision_x::snapshot_check(
        snap->file.data, snap->file.size, &snap->count);

    if (e != provision_x::snapshot_error::none) {
        *why = provision_x::snapshot_error_text(e);
        return NGX_ERROR;
    }

    return NGX_OK;
}

/* Buffered writer of a snapshot file, with the running CRC. */
struct writer_t {
    ngx_fd_t fd;
    u_char *buf;
    size_t len;
    size_t size;
    provision_x::snapshot_encoder enc;
    bool failed;
    ngx_log_t *log;
    const u_char *path;
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
writer_put(writer_t *w, const void *data, size_t len) noexcept
{
    auto *p = static_cast<const u_char *>(data);

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

bool
writer_record(writer_t *w, const provision_x::snapshot_record &rec) noexcept
{
    u_char head[provision_x::snapshot_record_header_size];

    provision_x::snapshot_encode_record(&w->enc, rec, head);
    writer_put(w, head, sizeof(head));
    writer_put(w, rec.bytes, rec.len);

    return !w->failed;
}

bool
save_record(void *data, const provision_x::ring_rec *rec,
            const u_char *bytes) noexcept
{
    return writer_record(static_cast<writer_t *>(data),
                         {rec->len, rec->deliveries, rec->enqueued, bytes});
}

/* Writes the prior snapshot's records, then the zone's, to fd. */
bool
write_snapshot(ngx_fd_t fd, const u_char *path, const snapshot_t *prior,
               provision_x::ring_header *sh, uint64_t *count,
               ngx_log_t *log) noexcept
{
    u_char buf[65536];
    u_char header[provision_x::snapshot_header_size];
    u_char trailer[provision_x::snapshot_trailer_size];
    writer_t w{fd, buf, 0, sizeof(buf), {}, false, log, path};

    provision_x::snapshot_encode_header(&w.enc, header);
    writer_put(&w, header, sizeof(header));

    if (prior != NULL) {
        provision_x::snapshot_reader r =
            provision_x::snapshot_records(prior->file.data, prior->file.size);
        provision_x::snapshot_record rec;

        while (provision_x::snapshot_next(&r, &rec) && writer_record(&w, rec)) {
            /* void */
        }
    }

    (void) provision_x::ring_walk(sh, save_record, &w);

    provision_x::snapshot_encode_trailer(&w.enc, trailer);
    writer_put(&w, trailer, sizeof(trailer));
    writer_flush(&w);

    if (!w.failed && fsync(fd) == -1) {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_errno, "fsync() \"%s\" failed",
                      path);
        w.failed = true;
    }

    *count = w.enc.count;

    return !w.failed;
}

void
sync_dir(const ngx_str_t *path, ngx_log_t *log) noexcept
{
    heap_path dir(path, "", log);
    if (dir.get() == NULL) {
        return;
    }

    u_char *slash = reinterpret_cast<u_char *>(
        std::strrchr(reinterpret_cast<char *>(dir.get()), '/'));

    if (slash != NULL) {
        *(slash == dir.get() ? slash + 1 : slash) = '\0';

        int fd =
            open(reinterpret_cast<char *>(dir.get()), O_RDONLY | O_DIRECTORY);

        if (fd != -1) {
            /* the rename itself must reach the disk */
            (void) fsync(fd);
            (void) close(fd);
        }
    }
}

/* a graceful stop: what a restore set aside is history now */
void
forget_restored(ctx_t *ctx, ngx_log_t *log) noexcept
{
    heap_path aside(&ctx->snapshot, ".restored", log);

    if (aside.get() != NULL && ngx_delete_file(aside.get()) == NGX_FILE_ERROR
        && ngx_errno != NGX_ENOENT)
    {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                      ngx_delete_file_n " \"%s\" failed", aside.get());
    }
}

/* keeps what cannot be read for a human; never overwrites it */
ngx_int_t
set_aside_damaged(ctx_t *ctx, const char *why, ngx_log_t *log) noexcept
{
    heap_path aside(&ctx->snapshot, ".damaged", log);

    if (aside.get() == NULL
        || ngx_rename_file(ctx->snapshot.data, aside.get()) == NGX_FILE_ERROR)
    {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                      "provision_x: snapshot \"%V\" is unreadable (%s) "
                      "and could not be moved aside",
                      &ctx->snapshot, why ? why : "I/O error");
        return NGX_ERROR;
    }

    ngx_log_error(NGX_LOG_ALERT, log, 0,
                  "provision_x: unreadable snapshot \"%V\" (%s) moved "
                  "to \"%s\"",
                  &ctx->snapshot, why ? why : "I/O error", aside.get());

    return NGX_OK;
}

/*
 * Writes PATH.tmp anew (never an old file or the target of a link someone
 * planted: the master writes it as root), then renames it over PATH.
 */
ngx_int_t
replace_snapshot(ctx_t *ctx, const snapshot_t *prior, ngx_log_t *log) noexcept
{
    heap_path tmp(&ctx->snapshot, ".tmp", log);
    if (tmp.get() == NULL) {
        return NGX_ERROR;
    }

    if (ngx_delete_file(tmp.get()) == NGX_FILE_ERROR && ngx_errno != NGX_ENOENT)
    {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                      ngx_delete_file_n " stale \"%s\" failed", tmp.get());
        return NGX_ERROR;
    }

    ngx_fd_t fd = open(reinterpret_cast<char *>(tmp.get()),
                       O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
    if (fd == NGX_INVALID_FILE) {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                      ngx_open_file_n " \"%s\" failed", tmp.get());
        return NGX_ERROR;
    }

    fd_guard guard(fd, tmp.get(), log);
    uint64_t count;
    bool written = write_snapshot(fd, tmp.get(), prior, ctx->sh, &count, log);

    if (!guard.close_now() || !written) {
        (void) ngx_delete_file(tmp.get());
        return NGX_ERROR;
    }

    if (ngx_rename_file(tmp.get(), ctx->snapshot.data) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                      ngx_rename_file_n " \"%s\" to \"%V\" failed", tmp.get(),
                      &ctx->snapshot);
        (void) ngx_delete_file(tmp.get());
        return NGX_ERROR;
    }

    sync_dir(&ctx->snapshot, log);
    forget_restored(ctx, log);

    ngx_log_error(NGX_LOG_NOTICE, log, 0,
                  "provision_x: queue zone \"%V\": %uL records written "
                  "to snapshot \"%V\"%s",
                  &ctx->shm_zone->shm.name, count, &ctx->snapshot,
                  prior != NULL && prior->count
                      ? " (with those of an earlier snapshot)"
                      : "");

    return NGX_OK;
}

/* no snapshot, but a .restored one: the last run did not stop gracefully */
void
warn_restored_left(ctx_t *ctx, ngx_log_t *log) noexcept
{
    heap_path restored(&ctx->snapshot, ".restored", log);
    ngx_file_info_t fi;

    if (restored.get() != NULL && ngx_file_info(restored.get(), &fi) == 0) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "provision_x: queue zone \"%V\": nginx did not "
                      "stop gracefully after restoring \"%s\": the "
                      "records of that run are lost; those of the "
                      "file may have been consumed since, so it is "
                      "not restored again (rename it to \"%V\" to "
                      "restore it, duplicates included)",
                      &ctx->shm_zone->shm.name, restored.get(), &ctx->snapshot);
    }
}

void
snapshot_lost(ctx_t *ctx, ngx_log_t *log) noexcept
{
    ngx_log_error(NGX_LOG_ALERT, log, 0,
                  "provision_x: queue zone \"%V\": snapshot not written, "
                  "%uL records are lost",
                  &ctx->shm_zone->shm.name, ctx->sh->depth);
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
        warn_restored_left(ctx, log);
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

    provision_x::snapshot_reader r =
        provision_x::snapshot_records(snap.file.data, snap.file.size);
    provision_x::snapshot_record rec;
    uint64_t bytes = 0;
    bool fits = true;

    /* go on counting after a record that does not fit, for the message */
    while (provision_x::snapshot_next(&r, &rec)) {
        bytes += rec.len;

        if (fits
            && !provision_x::ring_append(ctx->sh, rec.bytes, rec.len,
                                         rec.deliveries, rec.enqueued))
        {
            fits = false;
        }
    }

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
    heap_path aside(&ctx->snapshot, ".restored", log);

    if (aside.get() == NULL) {
        return;
    }

    if (ngx_rename_file(ctx->snapshot.data, aside.get()) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                      ngx_rename_file_n " \"%V\" to \"%s\" failed",
                      &ctx->snapshot, aside.get());
    }

    ctx->restored = 0;
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
    ngx_int_t rc = snapshot_load(&ctx->snapshot, &prior, &why, log);

    if (rc == NGX_DECLINED && sh->depth == 0) {
        forget_restored(ctx, log);
        return;
    }

    if (rc == NGX_ERROR && set_aside_damaged(ctx, why, log) != NGX_OK) {
        snapshot_lost(ctx, log);
        return;
    }

    if (replace_snapshot(ctx, rc == NGX_OK ? &prior : NULL, log) != NGX_OK) {
        snapshot_lost(ctx, log);
    }
}
