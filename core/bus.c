/* The bus's driver-independent half: subscriptions, lanes that keep one key's messages
 * in order, retries with backoff, dead letters, and flow control toward the driver. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bus_internal.h"

uint32_t bus_key_hash(const char *key)
{
    uint32_t h = 2166136261u;   /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h;
}

static char *dup_str(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void describe_metrics(struct td_bus *bus)
{
    struct td_metrics *m = bus->metrics;
    if (!m)
        return;
    td_metrics_describe(m, "td_bus_published_total", TD_METRIC_COUNTER,
                        "Messages the bus delivered to the broker (or local handlers).", NULL, 0);
    td_metrics_describe(m, "td_bus_publish_failed_total", TD_METRIC_COUNTER,
                        "Messages the bus could never deliver.", NULL, 0);
    td_metrics_describe(m, "td_bus_handled_total", TD_METRIC_COUNTER,
                        "Messages a consumer group finished, by outcome.", NULL, 0);
    bus->m_published = td_metrics_series(m, "td_bus_published_total", "");
    bus->m_publish_err = td_metrics_series(m, "td_bus_publish_failed_total", "");
}

int td_bus_open(uv_loop_t *loop, const struct td_bus_opts *opts, struct td_bus **out)
{
    struct td_bus *bus = calloc(1, sizeof *bus);
    if (!bus)
        return -ENOMEM;
    bus->loop = loop;
    bus->log = opts->log;
    bus->metrics = opts->metrics;
    bus->drv = opts->driver == TD_BUS_KAFKA ? &td_bus_kafka_driver : &td_bus_local_driver;
    bus->brokers = dup_str(opts->brokers);
    bus->client_id = dup_str(opts->client_id ? opts->client_id : "todod");
    bus->partitions = opts->partitions > 0 ? opts->partitions : 6;
    bus->replication = opts->replication > 0 ? opts->replication : 1;
    bus->fetch_wait_ms = opts->fetch_wait_ms > 0 ? opts->fetch_wait_ms : 50;
    bus->max_attempts = opts->max_attempts > 0 ? opts->max_attempts : 5;
    if ((opts->brokers && !bus->brokers) || !bus->client_id) {
        free(bus->brokers);
        free(bus->client_id);
        free(bus);
        return -ENOMEM;
    }
    describe_metrics(bus);
    *out = bus;
    return 0;
}

static struct td_metric_series *handled_series(struct td_bus *bus, const char *group,
                                               const char *topic, const char *outcome)
{
    char labels[300];
    snprintf(labels, sizeof labels, "group=\"%s\",topic=\"%s\",outcome=\"%s\"", group, topic,
             outcome);
    return bus->metrics ? td_metrics_series(bus->metrics, "td_bus_handled_total", labels) : NULL;
}

int td_bus_subscribe(struct td_bus *bus, const char *topic, const char *group,
                     td_bus_handler handler, void *arg)
{
    struct bus_sub *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->bus = bus;
    s->topic = strdup(topic);
    s->group = strdup(group);
    s->dlq_topic = malloc(strlen(topic) + 5);
    if (!s->topic || !s->group || !s->dlq_topic) {
        free(s->topic);
        free(s->group);
        free(s->dlq_topic);
        free(s);
        return -ENOMEM;
    }
    sprintf(s->dlq_topic, "%s.dlq", topic);
    s->handler = handler;
    s->arg = arg;
    s->depth = 1;
    s->m_ok = handled_series(bus, group, topic, "ok");
    s->m_retry = handled_series(bus, group, topic, "retry");
    s->m_dead = handled_series(bus, group, topic, "dead_letter");
    s->next = bus->subs;
    bus->subs = s;
    return 0;
}

int td_bus_set_depth(struct td_bus *bus, const char *topic, const char *group, int depth)
{
    for (struct bus_sub *s = bus->subs; s; s = s->next)
        if (strcmp(s->topic, topic) == 0 && strcmp(s->group, group) == 0) {
            s->depth = depth > 0 ? depth : 1;
            return 0;
        }
    return -ENOENT;
}

int td_bus_subscribe_dead_letters(struct td_bus *bus, const char *group,
                                  td_bus_handler handler, void *arg)
{
    struct bus_sub *existing = bus->subs;   /* new ones go in front: this list stays put */
    for (struct bus_sub *s = existing; s; s = s->next) {
        int seen = 0;   /* two groups on one topic share its dead-letter topic */
        for (struct bus_sub *t = existing; t != s; t = t->next)
            seen |= strcmp(t->topic, s->topic) == 0;
        int rc = seen ? 0 : td_bus_subscribe(bus, s->dlq_topic, group, handler, arg);
        if (rc)
            return rc;
    }
    return 0;
}

int td_bus_start(struct td_bus *bus)
{
    return bus->drv->start(bus);
}

int td_bus_publish(struct td_bus *bus, const char *topic, const char *key, const char *value,
                   size_t len, const char *traceparent, td_bus_published_cb cb, void *arg)
{
    if (bus->closing)
        return -ECANCELED;
    struct bus_header h[2] = {{"content-type", "application/cloudevents+json"},
                              {"traceparent", traceparent}};
    return bus->drv->publish(bus, topic, key, value, len, h, traceparent && *traceparent ? 2 : 1,
                             cb, arg);
}

size_t td_bus_pending(const struct td_bus *bus)
{
    return bus->queued + bus->drv->pending(bus);
}

int td_bus_is_up(const struct td_bus *bus, char *reason, size_t reasonlen)
{
    return bus->drv->is_up(bus, reason, reasonlen);
}

struct td_bus_delivery *bus_delivery_new(struct bus_sub *sub, const char *topic,
                                         const char *key, size_t keylen, const char *value,
                                         size_t len, const char *traceparent, size_t tplen,
                                         int32_t partition, int64_t offset)
{
    size_t tlen = strlen(topic);
    struct td_bus_delivery *d = calloc(1, sizeof *d);
    char *m = malloc(tlen + keylen + len + tplen + 4);
    if (!d || !m) {
        free(d);
        free(m);
        return NULL;
    }
    d->sub = sub;
    d->mem = m;
    d->msg.topic = memcpy(m, topic, tlen + 1);
    m += tlen + 1;
    d->msg.key = m;
    memcpy(m, key, keylen);
    m[keylen] = '\0';
    m += keylen + 1;
    d->msg.value = m;
    memcpy(m, value, len);
    m[len] = '\0';
    m += len + 1;
    d->msg.len = len;
    d->msg.traceparent = m;
    memcpy(m, traceparent ? traceparent : "", tplen);
    m[tplen] = '\0';
    d->msg.partition = partition;
    d->msg.offset = offset;
    d->msg.error = "";
    d->msg.failed_group = "";
    return d;
}

void bus_delivery_set_error(struct td_bus_delivery *d, const char *error, size_t len,
                            const char *group, size_t grouplen)
{
    free(d->error);
    d->error = strndup(error, len);
    d->msg.error = d->error ? d->error : "";
    free(d->group);
    d->group = group ? strndup(group, grouplen) : NULL;
    d->msg.failed_group = d->group ? d->group : "";
}

static void delivery_free(struct td_bus_delivery *d)
{
    free(d->why);
    free(d->error);
    free(d->group);
    free(d->mem);
    free(d);
}

static struct bus_lane *lane_of(struct bus_sub *sub, int32_t partition)
{
    if (partition < 0)
        partition = 0;
    if (partition >= sub->nlanes) {
        struct bus_lane **l = realloc(sub->lanes, (size_t)(partition + 1) * sizeof *l);
        if (!l)
            return NULL;
        for (int32_t i = sub->nlanes; i <= partition; i++)
            l[i] = NULL;
        sub->lanes = l;
        sub->nlanes = partition + 1;
    }
    if (!sub->lanes[partition]) {
        struct bus_lane *lane = calloc(1, sizeof *lane);
        if (!lane)
            return NULL;
        lane->sub = sub;
        lane->partition = partition;
        sub->lanes[partition] = lane;
    }
    return sub->lanes[partition];
}

static void hand_out(struct bus_lane *lane, struct td_bus_delivery *d)
{
    lane->nactive++;
    d->retry_at = 0;
    d->msg.attempt++;
    lane->sub->handler(&d->msg, d, lane->sub->arg);
}

static void lane_run(struct bus_lane *lane)
{
    struct bus_sub *sub = lane->sub;
    while (lane->nactive < sub->depth && !lane->nretry && lane->head && !sub->bus->closing) {
        struct td_bus_delivery *d = lane->head;
        lane->head = d->next;
        if (!lane->head)
            lane->tail = NULL;
        d->next = NULL;
        if (lane->atail)
            lane->atail->next = d;
        else
            lane->ahead = d;
        lane->atail = d;
        hand_out(lane, d);
    }
}

void bus_deliver(struct td_bus *bus, struct td_bus_delivery *d)
{
    struct bus_lane *lane = lane_of(d->sub, d->msg.partition);
    if (!lane) {   /* out of memory: never stored, so the driver redelivers it later */
        td_log_error(bus->log, "bus: out of memory; message %s/%d/%lld not handled",
                     d->msg.topic, (int)d->msg.partition, (long long)d->msg.offset);
        delivery_free(d);
        return;
    }
    bus->queued++;
    if (lane->tail)
        lane->tail->next = d;
    else
        lane->head = d;
    lane->tail = d;
    lane_run(lane);
}

void bus_revoke(struct bus_sub *sub, int32_t partition)
{
    if (partition < 0 || partition >= sub->nlanes || !sub->lanes[partition])
        return;
    struct bus_lane *lane = sub->lanes[partition];
    struct td_bus_delivery *d;
    while ((d = lane->head)) {
        lane->head = d->next;
        sub->bus->queued--;
        delivery_free(d);   /* never stored: the partition's next owner gets it */
    }
    lane->tail = NULL;
}

/* Commits the finished prefix of the lane's active list, in order; then more can run. */
static void settle(struct bus_lane *lane)
{
    struct td_bus *bus = lane->sub->bus;
    struct td_bus_delivery *d;
    while ((d = lane->ahead) && d->done) {
        lane->ahead = d->next;
        if (!lane->ahead)
            lane->atail = NULL;
        bus->drv->commit(bus, d);
        delivery_free(d);
        bus->queued--;
    }
    lane_run(lane);
    if (bus->starved && bus->queued < BUS_QUEUE_LOW && !bus->closing) {
        bus->starved = 0;
        bus->drv->room(bus);
    }
}

static void finish(struct td_bus_delivery *d)
{
    d->done = 1;
    settle(lane_of(d->sub, d->msg.partition));
}

static void dead_lettered(int status, void *arg)
{
    struct td_bus_delivery *d = arg;
    struct td_bus *bus = d->sub->bus;
    if (status != 0)   /* the dead-letter topic refused it: the error line is the record */
        td_log_error(bus->log, "bus: dead letter for %s/%d/%lld not published: %s; event %s",
                     d->msg.topic, (int)d->msg.partition, (long long)d->msg.offset,
                     strerror(-status), d->msg.value);
    finish(d);
}

static void dead_letter(struct td_bus_delivery *d)
{
    struct bus_sub *sub = d->sub;
    struct td_bus *bus = sub->bus;
    char part[16], off[24], attempts[16];
    snprintf(part, sizeof part, "%d", (int)d->msg.partition);
    snprintf(off, sizeof off, "%lld", (long long)d->msg.offset);
    snprintf(attempts, sizeof attempts, "%d", d->msg.attempt);
    const char *why = d->why ? d->why : "failed";
    struct bus_header h[] = {
        {"todod-error", why}, {"todod-original-topic", d->msg.topic},
        {"todod-original-partition", part}, {"todod-original-offset", off},
        {"todod-attempts", attempts}, {"todod-group", sub->group},
        {"traceparent", d->msg.traceparent},
    };
    int nh = *d->msg.traceparent ? 7 : 6;
    td_log_warn(bus->log, "bus: %s gives up on %s/%d/%lld after %d attempt(s): %s",
                sub->group, d->msg.topic, (int)d->msg.partition, (long long)d->msg.offset,
                d->msg.attempt, why);
    if (sub->m_dead)
        td_metric_add(sub->m_dead, 1);
    int rc = bus->drv->publish(bus, sub->dlq_topic, d->msg.key, d->msg.value, d->msg.len, h, nh,
                               dead_lettered, d);
    if (rc)
        dead_lettered(rc, d);
}

static void arm_retry(struct bus_lane *lane);

/* Messages whose backoff is over go back to the handler, in lane order: the first one
 * still waiting holds back every later one, even if their own backoff is shorter. */
static void on_retry(uv_timer_t *t)
{
    struct bus_lane *lane = t->data;
    struct td_bus *bus = lane->sub->bus;
    uint64_t now = uv_now(bus->loop);
    while (!bus->closing) {
        struct td_bus_delivery *d = lane->ahead;
        while (d && !d->retry_at)
            d = d->next;   /* in the handler or done: not ours to hand out */
        if (!d || d->retry_at > now)
            break;
        lane->nretry--;
        hand_out(lane, d);   /* may free d (answered at once): rescan from the head */
    }
    if (!bus->closing)
        arm_retry(lane);
}

static void arm_retry(struct bus_lane *lane)
{
    struct td_bus *bus = lane->sub->bus;
    uint64_t first = 0;
    for (struct td_bus_delivery *d = lane->ahead; d && !first; d = d->next)
        first = d->retry_at;   /* the earliest in lane order goes first */
    if (!first || !lane->retry)
        return;
    uint64_t now = uv_now(bus->loop);
    uv_timer_start(lane->retry, on_retry, first > now ? first - now : 0, 0);
}

static int schedule_retry(struct td_bus_delivery *d)
{
    struct bus_lane *lane = lane_of(d->sub, d->msg.partition);
    struct td_bus *bus = lane->sub->bus;
    if (!lane->retry) {
        lane->retry = malloc(sizeof *lane->retry);
        if (!lane->retry || uv_timer_init(bus->loop, lane->retry)) {
            free(lane->retry);
            lane->retry = NULL;
            return -ENOMEM;
        }
        lane->retry->data = lane;
        bus->open_handles++;
    }
    unsigned delay = BUS_RETRY_MIN_MS;
    for (int i = 1; i < d->msg.attempt && delay < BUS_RETRY_MAX_MS; i++)
        delay *= 2;
    if (delay > BUS_RETRY_MAX_MS)
        delay = BUS_RETRY_MAX_MS;
    d->retry_at = uv_now(bus->loop) + delay;
    lane->nretry++;
    arm_retry(lane);
    return 0;
}

void td_bus_done(struct td_bus_delivery *d, int status, const char *why)
{
    struct bus_sub *sub = d->sub;
    struct td_bus *bus = sub->bus;
    lane_of(sub, d->msg.partition)->nactive--;
    if (status == 0) {
        if (sub->m_ok)
            td_metric_add(sub->m_ok, 1);
        finish(d);
        return;
    }
    free(d->why);
    d->why = strdup(why && *why ? why : strerror(-status));
    if (bus->closing)   /* never committed: the group hands it out again after a restart */
        return;
    if (status != TD_BUS_WAIT)
        d->failures++;
    if (status == TD_BUS_REJECT || d->failures >= bus->max_attempts) {
        dead_letter(d);
        return;
    }
    if (sub->m_retry)
        td_metric_add(sub->m_retry, 1);
    td_log_warn(bus->log, "bus: %s: %s/%d/%lld failed (%d of %d failures allowed%s), "
                "retrying: %s", sub->group, d->msg.topic, (int)d->msg.partition,
                (long long)d->msg.offset, d->failures, bus->max_attempts,
                status == TD_BUS_WAIT ? "; a dependency is down, which does not count" : "",
                d->why ? d->why : "");
    if (schedule_retry(d))
        dead_letter(d);
}

const struct td_bus_msg *td_bus_message(const struct td_bus_delivery *d)
{
    return &d->msg;
}

void bus_handle_closed(uv_handle_t *h)
{
    struct bus_lane *lane = h->data;
    struct td_bus *bus = lane->sub->bus;
    free(h);
    lane->retry = NULL;
    bus_closed(bus);
}

static void free_subs(struct td_bus *bus)
{
    struct bus_sub *s;
    while ((s = bus->subs)) {
        bus->subs = s->next;
        for (int32_t i = 0; i < s->nlanes; i++) {
            struct bus_lane *lane = s->lanes[i];
            if (!lane)
                continue;
            struct td_bus_delivery *d, *next;
            for (d = lane->head; d; d = next) {
                next = d->next;
                delivery_free(d);
            }
            for (d = lane->ahead; d; d = next) {
                next = d->next;
                delivery_free(d);
            }
            free(lane);
        }
        free(s->lanes);
        free(s->topic);
        free(s->group);
        free(s->dlq_topic);
        free(s);
    }
}

/* Called once by the driver and once per retry timer closed; the last one frees. */
void bus_closed(struct td_bus *bus)
{
    if (--bus->open_handles)
        return;
    td_bus_closed_cb cb = bus->closed_cb;
    void *arg = bus->closed_arg;
    free_subs(bus);
    free(bus->brokers);
    free(bus->client_id);
    free(bus);
    if (cb)
        cb(arg);
}

void td_bus_close(struct td_bus *bus, td_bus_closed_cb cb, void *arg)
{
    bus->closing = 1;
    bus->closed_cb = cb;
    bus->closed_arg = arg;
    bus->open_handles++;   /* the driver's share, released by bus_closed */
    for (struct bus_sub *s = bus->subs; s; s = s->next)
        for (int32_t i = 0; i < s->nlanes; i++)
            if (s->lanes[i] && s->lanes[i]->retry)
                uv_close((uv_handle_t *)s->lanes[i]->retry, bus_handle_closed);
    bus->drv->close(bus);
}
