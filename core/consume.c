/* One statement per event (consume.h). */
#include "core/consume.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Owned by the set's list until its statement answers; released calls (set = NULL) are
 * freed by that answer, which always comes (closing the database cancels). */
struct td_consume_call {
    struct td_consume      *set;
    struct td_bus_delivery *d;
    td_consume_ok_fn        ok;
    void                   *arg;
    struct td_consume_call *next, **pprev;
};

static void unlink_call(struct td_consume_call *c)
{
    if (c->pprev) {
        *c->pprev = c->next;
        if (c->next)
            c->next->pprev = c->pprev;
    }
    c->next = NULL;
    c->pprev = NULL;
}

static void on_answer(int status, struct td_db_res *res, void *arg)
{
    struct td_consume_call *c = arg;
    unlink_call(c);
    if (!c->set) {
        free(c);
        return;
    }
    if (status == 0) {
        if (c->ok)
            c->ok(res, c->arg);
        td_bus_done(c->d, 0, NULL);
    } else if (status == -EIO && strncmp(td_db_res_sqlstate(res), "22", 2) == 0) {
        td_bus_done(c->d, TD_BUS_REJECT, td_db_res_error(res));   /* no retry will fix it */
    } else if (status == -EIO) {
        td_bus_done(c->d, TD_BUS_RETRY, td_db_res_error(res));
    } else {
        td_bus_done(c->d, TD_BUS_WAIT, res ? td_db_res_error(res) : "the database is not there");
    }
    free(c);
}

int td_consume_exec(struct td_consume *set, struct td_db *db, struct td_bus_delivery *d,
                    const char *stmt, int n, const char *const *params, td_consume_ok_fn ok,
                    void *arg)
{
    struct td_consume_call *c = calloc(1, sizeof *c);
    if (c) {   /* linked before the statement goes, so its answer always finds it whole */
        *c = (struct td_consume_call){.set = set, .d = d, .ok = ok, .arg = arg,
                                      .next = set->calls, .pprev = &set->calls};
        if (set->calls)
            set->calls->pprev = &c->next;
        set->calls = c;
    }
    int rc = c ? td_db_exec(db, stmt, n, params, on_answer, c) : -ENOMEM;
    if (rc) {
        if (c)
            unlink_call(c);
        free(c);
        td_bus_done(d, rc == -ENOMEM ? TD_BUS_RETRY : TD_BUS_WAIT, "the statement was not sent");
    }
    return rc;
}

void td_consume_release(struct td_consume *set)
{
    while (set->calls) {
        struct td_consume_call *c = set->calls;
        unlink_call(c);
        c->set = NULL;
        c->d = NULL;
    }
}
