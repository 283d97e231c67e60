/* The outbox relay: publishes outbox rows (written in the same transaction as the change
 * they announce) to the bus in seq order and marks them published.
 *
 * - One relay at a time publishes: it holds a PostgreSQL advisory lock on its own
 *   connection, and runs its queries on that same connection, so a relay that loses its
 *   connection loses the lease and stops at once. Others wait and take over.
 * - It wakes at once when a writer in this process calls td_outbox_wake, and through
 *   LISTEN todod_outbox when the writer is another process (td_outbox_wake sends one
 *   coalesced NOTIFY outside the writer's transaction, so task writes never queue on the
 *   notify lock). A slow timer catches anything missed.
 * - A row is marked published only after the bus confirmed it, so a crash republishes
 *   (consumers dedupe by event id) and never loses a row. A broker outage stalls the
 *   relay, not the API.
 */
#ifndef TD_OUTBOX_H
#define TD_OUTBOX_H
#include <uv.h>
#include "core/bus.h"
#include "core/db.h"
#include "core/log.h"
#include "core/metrics.h"

struct td_outbox;

struct td_outbox_opts {
    const char        *conninfo;   /* the relay opens its own connection */
    struct td_bus     *bus;        /* not owned */
    struct td_db      *pool;       /* not owned: sends the NOTIFY when not the leader */
    struct td_log     *log;
    struct td_metrics *metrics;    /* may be NULL */
};

int  td_outbox_open(uv_loop_t *loop, const struct td_outbox_opts *opts, struct td_outbox **out);
/* A transaction that wrote outbox rows committed. Cheap; call after every such commit. */
void td_outbox_wake(struct td_outbox *ob);
/* 1 while this process holds the lease (is the publishing relay). */
int  td_outbox_is_leader(const struct td_outbox *ob);
/* Close the bus first (td_bus_close): publishes still in flight point into the relay's
 * rows, and a closing bus never calls back. */
void td_outbox_close(struct td_outbox *ob, void (*cb)(void *arg), void *arg);

#endif
