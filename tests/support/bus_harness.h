/* A recording consumer for the bus's tests: it notes every message it is handed (key,
 * value, lane, offset, attempt, time) and answers as its mode says, or holds the delivery
 * for the test to finish later, the way a handler waiting for a database commit does.
 * Also a recorder for publish outcomes and the handled-messages counter. */
#ifndef TD_TEST_BUS_HARNESS_H
#define TD_TEST_BUS_HARNESS_H
#include <stdint.h>

#include "core/bus.h"
#include "core/metrics.h"

enum { TD_TEST_MAXREC = 512, TD_TEST_MAXHELD = 256 };

struct td_test_rec {
    char    topic[48];
    char    key[32];
    char    value[64];
    char    tp[64];
    char    error[64];   /* msg->error: why a dead letter is one */
    int32_t partition;
    int64_t offset;
    int     attempt;
    double  at;          /* td_test_now_ms() when handed out */
};

/* What the handler does with each message. */
enum td_test_mode {
    TD_TEST_DONE_NOW,        /* td_bus_done(0) inside the handler */
    TD_TEST_HOLD,            /* keeps it in held[] for td_test_release */
    TD_TEST_RETRY_ALWAYS,    /* TD_BUS_RETRY */
    TD_TEST_REJECT,          /* TD_BUS_REJECT */
    TD_TEST_RETRY_THEN_DONE, /* TD_BUS_RETRY on attempt 1, then 0 */
    TD_TEST_RETRY_POISON,    /* TD_BUS_RETRY when the value contains "poison", else 0 */
    TD_TEST_SCRIPT,          /* script[attempt - 1] */
};

struct td_test_consumer {
    const char             *name;
    enum td_test_mode       mode;
    int                     n;                 /* messages handed out so far */
    struct td_test_rec      rec[TD_TEST_MAXREC];
    struct td_bus_delivery *held[TD_TEST_MAXHELD];
    int32_t                 held_lane[TD_TEST_MAXHELD];
    int                     nheld;
    int                     lane_busy[64];     /* by msg->partition */
    int                     overlap;           /* a second message entered a busy lane */
    int                     inflight, max_inflight;
    const int              *script;
};

/* td_bus_handler; arg is a struct td_test_consumer. */
void td_test_consumer_handler(const struct td_bus_msg *msg, struct td_bus_delivery *d, void *arg);
/* Finishes held delivery i with status (the lane may run its next message at once). */
void td_test_release(struct td_test_consumer *c, int i, int status);
/* Index in held[] of the message with this value; asserts there is one. */
int  td_test_find_held(struct td_test_consumer *c, const char *value);

struct td_test_pubres {
    int    calls;
    int    status;
    double at;
};
void td_test_on_published(int status, void *arg);
/* td_bus_publish with a NUL-terminated value; asserts it was accepted and, when res is
 * given, that its callback did not run inside the call. */
void td_test_publish(struct td_bus *bus, const char *topic, const char *key, const char *value,
                     const char *traceparent, struct td_test_pubres *res);
/* td_bus_handled_total for one group, topic and outcome; -1 when absent. */
double td_test_handled(struct td_metrics *m, const char *group, const char *topic,
                       const char *outcome);

#endif
