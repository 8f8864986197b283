/*
 * Walking a cycle's shared memory zones of one module: the queue module
 * commits, saves and resizes its zones, and the status endpoint reports
 * them and the nonce and dedup zones, all from the same list.
 */

#include "ngx_http_provision_x_conf.hpp"

void
ngx_http_provision_x_zones_begin(ngx_http_provision_x_zone_iter_t *it,
                                 ngx_cycle_t *cycle, void *tag) noexcept
{
    it->part = &cycle->shared_memory.part;
    it->next = 0;
    it->tag = tag;
}

ngx_shm_zone_t *
ngx_http_provision_x_zones_next(ngx_http_provision_x_zone_iter_t *it) noexcept
{
    for (;;) {
        if (it->next >= it->part->nelts) {
            if (it->part->next == NULL) {
                return NULL;
            }

            it->part = it->part->next;
            it->next = 0;
            continue;
        }

        auto *zone = static_cast<ngx_shm_zone_t *>(it->part->elts) + it->next;

        it->next++;

        if (zone->tag == it->tag) {
            return zone;
        }
    }
}
