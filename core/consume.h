/* Consumers whose effect is one statement per event (recur, notify): the statement claims
 * the inbox row and makes the effect, and its answer settles the delivery — committed:
 * handled; SQLSTATE class 22 (the event's data is bad): dead-lettered at once; another SQL
 * error: retried with backoff; the database out of reach: waited for. Deliveries still in
 * flight when the role ends are let go without touching the bus (it has let go already). */
#ifndef TD_CONSUME_H
#define TD_CONSUME_H
#include "core/bus.h"
#include "core/db.h"

struct td_consume_call;

/* The deliveries a role has in flight; zeroed with the role's state. */
struct td_consume {
    struct td_consume_call *calls;
};

/* Runs on success, before the delivery counts as handled; res is the statement's. */
typedef void (*td_consume_ok_fn)(struct td_db_res *res, void *arg);

/* Runs stmt for delivery d. When the statement could not be sent, d is settled here (retry
 * or wait) and the error is returned. */
int  td_consume_exec(struct td_consume *set, struct td_db *db, struct td_bus_delivery *d,
                     const char *stmt, int n, const char *const *params, td_consume_ok_fn ok,
                     void *arg);
/* The role's fini: answers still to come find no one and settle nothing. */
void td_consume_release(struct td_consume *set);

#endif
