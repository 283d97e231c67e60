/* The bus tests' recording consumer (see bus_harness.h). */
#include "tests/support/bus_harness.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "tests/support/loop_harness.h"

void td_test_consumer_handler(const struct td_bus_msg *msg, struct td_bus_delivery *d, void *arg)
{
    struct td_test_consumer *c = arg;
    cr_assert(c->n < TD_TEST_MAXREC);
    struct td_test_rec *r = &c->rec[c->n++];
    snprintf(r->topic, sizeof r->topic, "%s", msg->topic);
    snprintf(r->key, sizeof r->key, "%s", msg->key);
    snprintf(r->value, sizeof r->value, "%.*s", (int)msg->len, msg->value);
    snprintf(r->tp, sizeof r->tp, "%s", msg->traceparent);
    snprintf(r->error, sizeof r->error, "%s", msg->error);
    r->partition = msg->partition;
    r->offset = msg->offset;
    r->attempt = msg->attempt;
    r->at = td_test_now_ms();
    cr_assert(msg->partition >= 0 && msg->partition < 64);
    if (c->lane_busy[msg->partition])
        c->overlap++;
    switch (c->mode) {
    case TD_TEST_DONE_NOW:
        td_bus_done(d, 0, NULL);
        return;
    case TD_TEST_RETRY_ALWAYS:
        td_bus_done(d, TD_BUS_RETRY, "database is down");
        return;
    case TD_TEST_REJECT:
        td_bus_done(d, TD_BUS_REJECT, "not a valid event");
        return;
    case TD_TEST_SCRIPT:
        td_bus_done(d, c->script[msg->attempt - 1], "scripted");
        return;
    case TD_TEST_RETRY_POISON:
        td_bus_done(d, strstr(msg->value, "poison") ? TD_BUS_RETRY : 0, "poisoned");
        return;
    case TD_TEST_RETRY_THEN_DONE:
        td_bus_done(d, msg->attempt < 2 ? TD_BUS_RETRY : 0, "try again");
        return;
    case TD_TEST_HOLD:
        cr_assert(c->nheld < TD_TEST_MAXHELD);
        c->lane_busy[msg->partition] = 1;
        c->held_lane[c->nheld] = msg->partition;
        c->held[c->nheld++] = d;
        if (++c->inflight > c->max_inflight)
            c->max_inflight = c->inflight;
        return;
    }
}

void td_test_release(struct td_test_consumer *c, int i, int status)
{
    cr_assert(i >= 0 && i < c->nheld, "no held delivery %d (%d held)", i, c->nheld);
    struct td_bus_delivery *d = c->held[i];
    c->lane_busy[c->held_lane[i]] = 0;
    c->inflight--;
    c->held[i] = c->held[c->nheld - 1];
    c->held_lane[i] = c->held_lane[c->nheld - 1];
    c->nheld--;
    td_bus_done(d, status, status ? "failed" : NULL);
}

int td_test_find_held(struct td_test_consumer *c, const char *value)
{
    for (int i = 0; i < c->nheld; i++)
        if (strcmp(td_bus_message(c->held[i])->value, value) == 0)
            return i;
    cr_assert_fail("%s is not in the handler", value);
    return -1;
}

void td_test_on_published(int status, void *arg)
{
    struct td_test_pubres *p = arg;
    p->calls++;
    p->status = status;
    p->at = td_test_now_ms();
}

void td_test_publish(struct td_bus *bus, const char *topic, const char *key, const char *value,
                     const char *tp, struct td_test_pubres *res)
{
    int rc = td_bus_publish(bus, topic, key, value, strlen(value), tp,
                            res ? td_test_on_published : NULL, res);
    cr_assert_eq(rc, 0, "publish %s/%s = %d", topic, key, rc);
    if (res)
        cr_assert_eq(res->calls, 0, "the publish callback ran inside td_bus_publish");
}

double td_test_handled(struct td_metrics *m, const char *group, const char *topic,
                       const char *outcome)
{
    char s[256];
    snprintf(s, sizeof s, "td_bus_handled_total{group=\"%s\",topic=\"%s\",outcome=\"%s\"}",
             group, topic, outcome);
    return td_test_metric(m, s);
}
