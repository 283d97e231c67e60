/* The local bus driver, for `todod all`: a publish is handed to every group subscribed
 * to its topic and counts as delivered once each of them finished it. Nothing is held
 * only in memory: the outbox row stays unpublished until then, so a crash redelivers. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/bus_internal.h"

/* One publish on its way: waits for a tick, then for every handler. */
struct local_pub {
    struct local_pub    *next, *prev;   /* local->all */
    struct local_pub    *qnext;         /* local->queue, before the tick */
    td_bus_published_cb  cb;
    void                *arg;
    int                  refs;          /* deliveries not yet finished */
    int                  status;
    char                *topic, *key, *value, *traceparent;
    size_t               len;
    char                *why;           /* dead letters: the error, for the log */
    char                *group;         /* dead letters: the group that gave up */
};

struct local {
    uv_timer_t        tick;     /* deliveries and callbacks run here, never inside a call */
    struct local_pub *all;
    struct local_pub *qhead, *qtail;
    int64_t           seq;
    size_t            npending;
};

static void pub_free(struct local *l, struct local_pub *p)
{
    if (p->prev)
        p->prev->next = p->next;
    else
        l->all = p->next;
    if (p->next)
        p->next->prev = p->prev;
    l->npending--;
    free(p->topic);
    free(p->key);
    free(p->value);
    free(p->traceparent);
    free(p->why);
    free(p->group);
    free(p);
}

static void pub_settle(struct td_bus *bus, struct local_pub *p)
{
    struct local *l = bus->impl;
    if (p->status == 0 && bus->m_published)
        td_metric_add(bus->m_published, 1);
    if (p->cb && !bus->closing)   /* closing: the publisher is gone or going */
        p->cb(p->status, p->arg);
    pub_free(l, p);
}

static void dispatch(struct td_bus *bus, struct local_pub *p)
{
    struct local *l = bus->impl;
    int64_t off = ++l->seq;
    int32_t lane = (int32_t)(bus_key_hash(p->key) % BUS_LOCAL_LANES);
    p->refs = 1;   /* held while handing out, so a handler finishing at once cannot settle */
    for (struct bus_sub *s = bus->subs; s; s = s->next) {
        if (strcmp(s->topic, p->topic) != 0)
            continue;
        struct td_bus_delivery *d = bus_delivery_new(
            s, p->topic, p->key, strlen(p->key), p->value, p->len, p->traceparent,
            p->traceparent ? strlen(p->traceparent) : 0, lane, off);
        if (!d) {
            p->status = -ENOMEM;
            continue;
        }
        d->ref = p;
        if (p->why)
            bus_delivery_set_error(d, p->why, strlen(p->why), p->group,
                                   p->group ? strlen(p->group) : 0);
        p->refs++;
        bus_deliver(bus, d);
    }
    if (!strstr(p->topic, ".dlq") || p->refs > 1) {
        if (--p->refs == 0)
            pub_settle(bus, p);
        return;
    }
    /* A dead letter nobody stores (no dead-letter subscription): the error log keeps it. */
    td_log_error(bus->log, "bus: dead letter on %s (key %s): %s; event %s", p->topic, p->key,
                 p->why ? p->why : "", p->value);
    p->refs = 0;
    pub_settle(bus, p);
}

static void on_tick(uv_timer_t *t)
{
    struct td_bus *bus = t->data;
    struct local *l = bus->impl;
    struct local_pub *p;
    while ((p = l->qhead) && !bus->closing) {
        l->qhead = p->qnext;
        if (!l->qhead)
            l->qtail = NULL;
        dispatch(bus, p);
    }
}

static int local_start(struct td_bus *bus)
{
    struct local *l = calloc(1, sizeof *l);
    if (!l)
        return -ENOMEM;
    uv_timer_init(bus->loop, &l->tick);
    l->tick.data = bus;
    bus->impl = l;
    return 0;
}

static char *copy(const char *s, size_t n)
{
    char *c = malloc(n + 1);
    if (c) {
        memcpy(c, s, n);
        c[n] = '\0';
    }
    return c;
}

static int local_publish(struct td_bus *bus, const char *topic, const char *key,
                         const char *value, size_t len, const struct bus_header *hdrs,
                         int nhdrs, td_bus_published_cb cb, void *arg)
{
    struct local *l = bus->impl;
    if (!l)
        return -EINVAL;   /* not started */
    struct local_pub *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    p->cb = cb;
    p->arg = arg;
    p->len = len;
    p->topic = strdup(topic);
    p->key = strdup(key);
    p->value = copy(value, len);
    for (int i = 0; i < nhdrs; i++) {
        if (strcmp(hdrs[i].name, "traceparent") == 0 && hdrs[i].value)
            p->traceparent = strdup(hdrs[i].value);
        if (strcmp(hdrs[i].name, "todod-error") == 0 && hdrs[i].value)
            p->why = strdup(hdrs[i].value);
        if (strcmp(hdrs[i].name, "todod-group") == 0 && hdrs[i].value)
            p->group = strdup(hdrs[i].value);
    }
    if (!p->topic || !p->key || !p->value) {
        free(p->why);
        free(p->group);
        free(p->topic);
        free(p->key);
        free(p->value);
        free(p->traceparent);
        free(p);
        return -ENOMEM;
    }
    p->next = l->all;
    if (l->all)
        l->all->prev = p;
    l->all = p;
    l->npending++;
    if (l->qtail)
        l->qtail->qnext = p;
    else
        l->qhead = p;
    l->qtail = p;
    uv_timer_start(&l->tick, on_tick, 0, 0);
    return 0;
}

static void local_commit(struct td_bus *bus, struct td_bus_delivery *d)
{
    struct local_pub *p = d->ref;
    if (p && --p->refs == 0)
        pub_settle(bus, p);
}

static void local_room(struct td_bus *bus)
{
    (void)bus;
}

static int local_is_up(const struct td_bus *bus, char *reason, size_t reasonlen)
{
    (void)bus;
    (void)reason;
    (void)reasonlen;
    return 1;
}

static size_t local_pending(const struct td_bus *bus)
{
    const struct local *l = bus->impl;
    return l ? l->npending : 0;
}

static void tick_closed(uv_handle_t *h)
{
    struct td_bus *bus = h->data;
    struct local *l = bus->impl;
    /* publishes never finished: their outbox rows stay unpublished for the next start */
    while (l->all)
        pub_free(l, l->all);
    free(l);
    bus->impl = NULL;
    bus_closed(bus);
}

static void local_close(struct td_bus *bus)
{
    struct local *l = bus->impl;
    if (!l) {
        bus_closed(bus);
        return;
    }
    uv_close((uv_handle_t *)&l->tick, tick_closed);
}

const struct bus_driver td_bus_local_driver = {
    .start = local_start,
    .publish = local_publish,
    .commit = local_commit,
    .room = local_room,
    .is_up = local_is_up,
    .pending = local_pending,
    .close = local_close,
};
