/* Group commit on the uv loop: items that arrive together go to PostgreSQL as one
 * statement (one transaction, one fsync), and each is still answered only after it.
 *
 * The caller queues opaque items with td_gcommit_add. Everything queued in one loop turn
 * is sent together, in queue order, by the caller's send callback, at most max_batch
 * items per statement and max_inflight statements at a time (1 keeps commits in queue
 * order). The caller's database callback reads the per-item results, answers each item
 * and ends the batch with td_gcommit_done, which applies the policy:
 *
 *   0                   the statement ran: every item was answered by the caller, except
 *                       those passed to td_gcommit_retry, which go again, each alone, at
 *                       once and beyond max_inflight (one bad row fails a whole statement:
 *                       alone, only it fails). Without retries the batch size limit
 *                       doubles back toward max_batch.
 *   TD_GCOMMIT_REFUSED  the server refused the statement as a whole: the limit halves to
 *                       half this batch and its items go back to the caller (back,
 *                       TD_GCOMMIT_AGAIN), so the culprit is cornered in ever smaller
 *                       batches; refused alone, the item goes back as TD_GCOMMIT_REFUSED:
 *                       only then is it at fault.
 *   other negative      the statement could not run (database down): the items go back
 *                       with that status, nobody blamed.
 *
 * A batch that fails (the two last cases, or a send returning nonzero) takes everything
 * still queued back with it, after its own items, in order: nothing queued later
 * overtakes it. A send failure ends its batch like td_gcommit_done(b, rc, strerror).
 *
 * The loop handle is an idle handle, running only while something is queued and a batch
 * may go (never a busy loop while batches are full), and unreferenced: it never keeps the
 * loop alive. Callbacks never run inside td_gcommit_add.
 */
#ifndef TD_GCOMMIT_H
#define TD_GCOMMIT_H
#include <errno.h>
#include <uv.h>
#include "core/log.h"
#include "core/metrics.h"

struct td_gcommit;
struct td_gcommit_batch;   /* one statement's items; valid until td_gcommit_done */

/* Statuses: td_gcommit_done takes REFUSED; back gets REFUSED, AGAIN, CLOSED or the
 * status the failed batch ended with. */
enum {
    TD_GCOMMIT_REFUSED = -EIO,        /* refused; to back: refused alone, the item's fault */
    TD_GCOMMIT_AGAIN = -EAGAIN,       /* not this item's fault: send it again */
    TD_GCOMMIT_CLOSED = -ESHUTDOWN,   /* td_gcommit_close: never sent */
};

/* Builds and executes one statement for td_gcommit_items(b); its callback ends with
 * td_gcommit_done(b, ...) or td_gcommit_resend(b). Returns 0, or a negative errno when
 * nothing was sent (then the batch fails with it). */
typedef int (*td_gcommit_send_fn)(struct td_gcommit_batch *b, void *arg);
/* An item handed back unanswered: the caller owns it again. why may be NULL. */
typedef void (*td_gcommit_back_fn)(void *item, int status, const char *why, void *arg);

struct td_gcommit_opts {
    const char        *name;           /* for log lines, e.g. "audit" */
    int                max_batch;      /* items per statement */
    int                max_inflight;   /* statements waiting on the database */
    int                max_queue;      /* items waiting to be sent */
    td_gcommit_send_fn send;
    td_gcommit_back_fn back;
    void              *arg;            /* for send and back */
    struct td_log     *log;            /* may be NULL */
    /* Histogram family (declared by the caller, before or after td_gcommit_new) that
     * observes the size of each batch taken from the queue. Either may be NULL. */
    struct td_metrics *metrics;
    const char        *size_metric;
};

int  td_gcommit_new(uv_loop_t *loop, const struct td_gcommit_opts *opts,
                    struct td_gcommit **out);
/* Queues item for this loop turn's batch. -ENOBUFS when max_queue items wait (the caller
 * decides what to do with it), -ESHUTDOWN after td_gcommit_close. */
int  td_gcommit_add(struct td_gcommit *g, void *item);
/* Hands every queued item back (TD_GCOMMIT_CLOSED, in order) and closes the handle. g is
 * freed once that is closed and the batches in flight are done; they end as usual, but
 * their retries go back as TD_GCOMMIT_CLOSED. */
void td_gcommit_close(struct td_gcommit *g);

/* The batch's items, in queue order; *n gets their count. */
void *const *td_gcommit_items(const struct td_gcommit_batch *b, int *n);
/* 1 for the first send of these items, 2 after one td_gcommit_resend, ... */
int  td_gcommit_attempt(const struct td_gcommit_batch *b);
/* Item i goes again, alone (at td_gcommit_done with status 0). An item that was already
 * alone comes back to the caller as TD_GCOMMIT_REFUSED instead. */
void td_gcommit_retry(struct td_gcommit_batch *b, int i);
/* Sends the same items again in place of td_gcommit_done (another form of the statement,
 * told apart by td_gcommit_attempt); nothing queued overtakes them. */
void td_gcommit_resend(struct td_gcommit_batch *b);
/* Ends the batch (see the top of this file) and frees it. */
void td_gcommit_done(struct td_gcommit_batch *b, int status, const char *why);

#endif
