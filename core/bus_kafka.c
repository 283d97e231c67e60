/* The Kafka bus driver (librdkafka). librdkafka runs its own threads; everything that
 * reaches our code (delivery reports, messages, rebalances, statistics) is served on the
 * loop: each client's queue writes a byte to a pipe when it becomes non-empty
 * (rd_kafka_queue_io_event_enable) and a uv_poll on the pipe drains the queue.
 *
 * Producer: idempotent (acks=all, in order per partition across retries), lz4,
 * message.timeout.ms=0 so a broker outage makes publishes wait, never fail and never
 * reorder. Consumers: one client per group, cooperative-sticky assignor, offsets stored
 * only when the handler is done and committed in the background. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/bus_internal.h"

enum { KAFKA_TICK_MS = 200, KAFKA_ADMIN_TIMEOUT_MS = 10000, KAFKA_FLUSH_MS = 2000 };

struct kclient;

struct kgroup {
    struct kgroup  *next;
    struct kafka   *k;
    char           *name;
    rd_kafka_t     *rk;
    struct kclient *io;
    int             paused;   /* flow control paused its partitions */
};

/* One rd_kafka_t's queue, watched through a pipe. */
struct kclient {
    struct kafka    *k;
    struct kgroup   *group;    /* NULL for the producer */
    rd_kafka_queue_t *q;
    int              fds[2];
    uv_poll_t        poll;
    int              watched;   /* poll initialised: closed through the loop */
};

struct kpub {
    td_bus_published_cb cb;
    void               *arg;
};

struct kafka {
    struct td_bus    *bus;
    rd_kafka_t       *producer;
    struct kclient   *pio;
    rd_kafka_queue_t *admin_q;
    int               admin_waiting;
    struct kgroup    *groups;
    uv_timer_t        tick;
    size_t            npending;       /* produced, no delivery report yet */
    int               broker_up;
    char              last_err[200];
    unsigned          open;           /* uv handles still to close */
    int               tick_started;
    char            **topics;         /* to create at start */
    size_t            ntopics;
};

static void on_io(uv_poll_t *h, int status, int events);

static rd_kafka_conf_t *base_conf(struct td_bus *bus, char *err, size_t errlen)
{
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    if (rd_kafka_conf_set(c, "bootstrap.servers", bus->brokers, err, errlen) ||
        rd_kafka_conf_set(c, "client.id", bus->client_id, err, errlen) ||
        rd_kafka_conf_set(c, "statistics.interval.ms", "1000", err, errlen) ||
        rd_kafka_conf_set(c, "reconnect.backoff.ms", "100", err, errlen) ||
        rd_kafka_conf_set(c, "reconnect.backoff.max.ms", "2000", err, errlen) ||
        rd_kafka_conf_set(c, "log.connection.close", "false", err, errlen) ||
        rd_kafka_conf_set(c, "log.queue", "true", err, errlen)) {
        rd_kafka_conf_destroy(c);
        return NULL;
    }
    return c;
}

static int set_all(rd_kafka_conf_t *c, const char *const *kv, char *err, size_t errlen)
{
    for (; kv[0]; kv += 2)
        if (rd_kafka_conf_set(c, kv[0], kv[1], err, errlen) != RD_KAFKA_CONF_OK)
            return -EINVAL;
    return 0;
}

/* ---- statistics: broker reachability and consumer lag ---- */

static void read_lag(struct kgroup *g, json_t *stats)
{
    struct td_bus *bus = g->k->bus;
    const char *tname;
    json_t *t;
    json_object_foreach(json_object_get(stats, "topics"), tname, t) {
        double lag = 0;
        const char *pname;
        json_t *p;
        json_object_foreach(json_object_get(t, "partitions"), pname, p) {
            json_int_t l = json_integer_value(json_object_get(p, "consumer_lag_stored"));
            if (strcmp(pname, "-1") != 0 && l > 0)
                lag += (double)l;
        }
        char labels[300];
        snprintf(labels, sizeof labels, "group=\"%s\",topic=\"%s\"", g->name, tname);
        struct td_metric_series *s = td_metrics_series(bus->metrics, "td_bus_consumer_lag",
                                                       labels);
        if (s)
            td_metric_set(s, lag);
    }
}

static int on_stats(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
    (void)rk;
    struct kclient *io = opaque;
    json_t *stats = json_loadb(json, len, 0, NULL);
    if (!stats)
        return 0;
    if (!io->group) {
        int up = 0;
        const char *name;
        json_t *b;
        json_object_foreach(json_object_get(stats, "brokers"), name, b) {
            const char *state = json_string_value(json_object_get(b, "state"));
            json_int_t id = json_integer_value(json_object_get(b, "nodeid"));
            if (state && strcmp(state, "UP") == 0 && id >= 0)
                up = 1;
        }
        if (up != io->k->broker_up)
            td_log_info(io->k->bus->log, "bus: Kafka broker %s", up ? "reachable" : "unreachable");
        io->k->broker_up = up;
    } else if (io->k->bus->metrics) {
        read_lag(io->group, stats);
    }
    json_decref(stats);
    return 0;
}

/* Connection trouble also arrives as log lines (on_log); only other errors are logged
 * here, so an outage does not log everything twice. */
static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)rk;
    struct kclient *io = opaque;
    snprintf(io->k->last_err, sizeof io->k->last_err, "%s", reason);
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
        io->k->broker_up = 0;
    else if (err != RD_KAFKA_RESP_ERR__TRANSPORT && err != RD_KAFKA_RESP_ERR__RESOLVE)
        td_log_warn(io->k->bus->log, "bus: kafka: %s", reason);
}

/* librdkafka's own log lines, as ours (JSON lines). log.queue routes them to the client's
 * queue, so this runs on the loop, never on librdkafka's threads. */
static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    struct kclient *io = rd_kafka_opaque(rk);
    if (!io)
        return;
    struct td_log *log = io->k->bus->log;
    if (level <= 3)
        td_log_error(log, "bus: kafka %s: %s", fac, buf);
    else if (level == 4)
        td_log_warn(log, "bus: kafka %s: %s", fac, buf);
    else if (level <= 6)
        td_log_info(log, "bus: kafka %s: %s", fac, buf);
    else
        td_log_debug(log, "bus: kafka %s: %s", fac, buf);
}

/* ---- queue io events ---- */

static int watch(struct kafka *k, struct kclient *io, rd_kafka_queue_t *q)
{
    io->k = k;
    io->q = q;   /* ours to destroy from now on, watched or not */
    if (pipe(io->fds))
        return -errno;
    fcntl(io->fds[0], F_SETFL, O_NONBLOCK);
    fcntl(io->fds[1], F_SETFL, O_NONBLOCK);
    fcntl(io->fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(io->fds[1], F_SETFD, FD_CLOEXEC);
    rd_kafka_queue_io_event_enable(q, io->fds[1], "1", 1);
    uv_poll_init(k->bus->loop, &io->poll, io->fds[0]);
    io->poll.data = io;
    io->watched = 1;
    k->open++;
    return uv_poll_start(&io->poll, UV_READABLE, on_io);
}

/* ---- producer ---- */

static int map_err(rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR: return 0;
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
        return -EMSGSIZE;
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART: return -ENOENT;
    case RD_KAFKA_RESP_ERR__QUEUE_FULL: return -EAGAIN;
    default: return -EIO;
    }
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    struct kclient *io = opaque;
    struct kafka *k = io->k;
    struct td_bus *bus = k->bus;
    struct kpub *p = m->_private;
    k->npending--;
    if (m->err) {
        td_log_error(bus->log, "bus: publish to %s failed: %s", rd_kafka_topic_name(m->rkt),
                     rd_kafka_err2str(m->err));
        if (bus->m_publish_err)
            td_metric_add(bus->m_publish_err, 1);
    } else {
        k->broker_up = 1;
        if (bus->m_published)
            td_metric_add(bus->m_published, 1);
    }
    if (p && p->cb && !bus->closing)
        p->cb(map_err(m->err), p->arg);
    free(p);
}

static int kafka_publish(struct td_bus *bus, const char *topic, const char *key,
                         const char *value, size_t len, const struct bus_header *hdrs,
                         int nhdrs, td_bus_published_cb cb, void *arg)
{
    struct kafka *k = bus->impl;
    if (!k || !k->producer)
        return -EINVAL;
    struct kpub *p = malloc(sizeof *p);
    rd_kafka_headers_t *h = rd_kafka_headers_new((size_t)nhdrs);
    if (!p || !h) {
        free(p);
        if (h)
            rd_kafka_headers_destroy(h);
        return -ENOMEM;
    }
    p->cb = cb;
    p->arg = arg;
    for (int i = 0; i < nhdrs; i++)
        if (hdrs[i].value)
            rd_kafka_header_add(h, hdrs[i].name, -1, hdrs[i].value, -1);
    rd_kafka_resp_err_t err = rd_kafka_producev(
        k->producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, strlen(key)),
        RD_KAFKA_V_VALUE((void *)value, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_OPAQUE(p), RD_KAFKA_V_END);
    if (err) {   /* headers are ours again only on failure */
        rd_kafka_headers_destroy(h);
        free(p);
        return map_err(err);
    }
    k->npending++;
    return 0;
}

/* ---- consumers ---- */

static struct bus_sub *sub_for(struct kgroup *g, const char *topic)
{
    for (struct bus_sub *s = g->k->bus->subs; s; s = s->next)
        if (strcmp(s->group, g->name) == 0 && strcmp(s->topic, topic) == 0)
            return s;
    return NULL;
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    struct kclient *io = opaque;
    struct kgroup *g = io->group;
    int coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    rd_kafka_error_t *e = NULL;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        td_log_info(g->k->bus->log, "bus: %s assigned %d partition(s)", g->name, parts->cnt);
        if (coop)
            e = rd_kafka_incremental_assign(rk, parts);
        else
            rd_kafka_assign(rk, parts);
    } else {
        for (int i = 0; i < parts->cnt; i++) {
            struct bus_sub *s = sub_for(g, parts->elems[i].topic);
            if (s)
                bus_revoke(s, parts->elems[i].partition);
        }
        td_log_info(g->k->bus->log, "bus: %s revoked %d partition(s)", g->name, parts->cnt);
        if (coop && err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS)
            e = rd_kafka_incremental_unassign(rk, parts);
        else
            rd_kafka_assign(rk, NULL);
    }
    if (e) {
        td_log_error(g->k->bus->log, "bus: %s rebalance: %s", g->name, rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    }
}

static void take(struct kgroup *g, rd_kafka_message_t *m)
{
    struct td_bus *bus = g->k->bus;
    if (m->err) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            td_log_warn(bus->log, "bus: %s: %s", g->name, rd_kafka_message_errstr(m));
        rd_kafka_message_destroy(m);
        return;
    }
    const char *topic = rd_kafka_topic_name(m->rkt);
    struct bus_sub *s = sub_for(g, topic);
    const void *tp = NULL;
    size_t tplen = 0;
    rd_kafka_headers_t *h = NULL;
    if (rd_kafka_message_headers(m, &h) == 0 &&
        rd_kafka_header_get_last(h, "traceparent", &tp, &tplen) != 0)
        tp = NULL, tplen = 0;
    struct td_bus_delivery *d = s ? bus_delivery_new(s, topic, m->key ? m->key : "",
                                                     m->key ? m->key_len : 0,
                                                     m->payload ? m->payload : "", m->len,
                                                     tp, tplen, m->partition, m->offset)
                                  : NULL;
    const void *why = NULL, *group = NULL;
    size_t whylen = 0, grouplen = 0;
    if (d && h && rd_kafka_header_get_last(h, "todod-error", &why, &whylen) == 0 && why) {
        if (rd_kafka_header_get_last(h, "todod-group", &group, &grouplen) != 0)
            group = NULL, grouplen = 0;
        bus_delivery_set_error(d, why, whylen, group, grouplen);
    }
    rd_kafka_message_destroy(m);
    if (d)
        bus_deliver(bus, d);
}

/* Flow control pauses the group's partitions rather than stop polling: a consumer that
 * does not poll leaves its group after max.poll.interval.ms, and rebalances, statistics
 * and logs arrive through the same poll. */
static void set_paused(struct kgroup *g, int paused)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (g->paused == paused || rd_kafka_assignment(g->rk, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return;
    if (paused)
        rd_kafka_pause_partitions(g->rk, parts);
    else
        rd_kafka_resume_partitions(g->rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    g->paused = paused;
}

static void consume(struct kgroup *g)
{
    struct td_bus *bus = g->k->bus;
    while (!bus->closing) {
        if (bus->queued >= BUS_QUEUE_HIGH) {
            bus->starved = 1;   /* finish() calls room once the lanes drain */
            set_paused(g, 1);
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(g->rk, 0);
        if (!m)
            return;
        take(g, m);   /* a paused partition may still hand over what was under way */
    }
}

static void kafka_commit(struct td_bus *bus, struct td_bus_delivery *d)
{
    struct kafka *k = bus->impl;
    for (struct kgroup *g = k ? k->groups : NULL; g; g = g->next) {
        if (strcmp(g->name, d->sub->group) != 0 || !g->rk)
            continue;
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, d->msg.topic, d->msg.partition)->offset =
            d->msg.offset + 1;
        rd_kafka_offsets_store(g->rk, l);   /* fails after a revoke: the next owner redoes it */
        rd_kafka_topic_partition_list_destroy(l);
        return;
    }
}

static void kafka_room(struct td_bus *bus)
{
    struct kafka *k = bus->impl;
    for (struct kgroup *g = k->groups; g; g = g->next)
        if (g->rk) {
            set_paused(g, 0);
            consume(g);
        }
}

static void on_io(uv_poll_t *h, int status, int events)
{
    (void)status;
    (void)events;
    struct kclient *io = h->data;
    char junk[64];
    while (read(io->fds[0], junk, sizeof junk) > 0) {
    }
    if (io->group)
        consume(io->group);
    else
        rd_kafka_poll(io->k->producer, 0);
}

static int start_group(struct kafka *k, struct kgroup *g)
{
    struct td_bus *bus = k->bus;
    char err[512];
    static const char *const kv[] = {
        "enable.auto.offset.store", "false", "enable.auto.commit", "true",
        "auto.commit.interval.ms", "500", "auto.offset.reset", "earliest",
        "partition.assignment.strategy", "cooperative-sticky", "session.timeout.ms", "6000",
        "heartbeat.interval.ms", "1000", "allow.auto.create.topics", "true",
        "topic.metadata.refresh.interval.ms", "5000", NULL};
    /* --kafka-fetch-wait: a broker answers a fetch as soon as data arrives; some (the mock
     * cluster) wait the whole time, which then becomes every event's latency */
    char fetch_wait[16];
    snprintf(fetch_wait, sizeof fetch_wait, "%d", bus->fetch_wait_ms);
    rd_kafka_conf_t *c = base_conf(bus, err, sizeof err);
    if (!c || set_all(c, kv, err, sizeof err) ||
        rd_kafka_conf_set(c, "fetch.wait.max.ms", fetch_wait, err, sizeof err) ||
        rd_kafka_conf_set(c, "group.id", g->name, err, sizeof err)) {
        td_log_error(bus->log, "bus: consumer configuration: %s", err);
        if (c)
            rd_kafka_conf_destroy(c);
        return -EINVAL;
    }
    g->io = calloc(1, sizeof *g->io);
    if (!g->io) {
        rd_kafka_conf_destroy(c);
        return -ENOMEM;
    }
    g->io->group = g;
    rd_kafka_conf_set_opaque(c, g->io);
    rd_kafka_conf_set_rebalance_cb(c, on_rebalance);
    rd_kafka_conf_set_stats_cb(c, on_stats);
    rd_kafka_conf_set_error_cb(c, on_error);
    rd_kafka_conf_set_log_cb(c, on_log);
    g->rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof err);
    if (!g->rk) {   /* the configuration is ours again only on failure */
        rd_kafka_conf_destroy(c);
        td_log_error(bus->log, "bus: consumer: %s", err);
        return -EINVAL;
    }
    rd_kafka_set_log_queue(g->rk, NULL);
    rd_kafka_poll_set_consumer(g->rk);
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(4);
    for (struct bus_sub *s = bus->subs; s; s = s->next)
        if (strcmp(s->group, g->name) == 0)
            rd_kafka_topic_partition_list_add(topics, s->topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(g->rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    int rc = e ? -EINVAL : watch(k, g->io, rd_kafka_queue_get_consumer(g->rk));
    if (rc && !g->io->watched) {   /* nothing of it is on the loop: let it go now */
        td_log_error(bus->log, "bus: subscribe %s: %s", g->name,
                     e ? rd_kafka_err2str(e) : strerror(-rc));
        if (g->io->q)
            rd_kafka_queue_destroy(g->io->q);
        g->io->q = NULL;
        rd_kafka_destroy(g->rk);
        g->rk = NULL;
    }
    return rc;
}

static void start_groups(struct kafka *k)
{
    for (struct kgroup *g = k->groups; g; g = g->next)
        if (!g->rk && start_group(k, g))
            td_log_error(k->bus->log, "bus: consumer group %s did not start", g->name);
}

/* ---- topics ---- */

static int add_topic(struct kafka *k, const char *name)
{
    for (size_t i = 0; i < k->ntopics; i++)
        if (strcmp(k->topics[i], name) == 0)
            return 0;
    char **t = realloc(k->topics, (k->ntopics + 1) * sizeof *t);
    if (!t)
        return -ENOMEM;
    k->topics = t;
    if (!(t[k->ntopics] = strdup(name)))
        return -ENOMEM;
    k->ntopics++;
    return 0;
}

static void create_topics(struct kafka *k)
{
    struct td_bus *bus = k->bus;
    char err[256];
    rd_kafka_NewTopic_t **nt = calloc(k->ntopics, sizeof *nt);
    size_t n = 0;
    for (size_t i = 0; nt && i < k->ntopics; i++)
        if ((nt[n] = rd_kafka_NewTopic_new(k->topics[i], bus->partitions, bus->replication, err,
                                           sizeof err)))
            n++;
    rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(k->producer,
                                                           RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_request_timeout(o, KAFKA_ADMIN_TIMEOUT_MS, err, sizeof err);
    rd_kafka_CreateTopics(k->producer, nt, n, o, k->admin_q);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_NewTopic_destroy_array(nt, n);
    free(nt);
    k->admin_waiting = 1;
}

static void admin_result(struct kafka *k, rd_kafka_event_t *ev)
{
    struct td_bus *bus = k->bus;
    const rd_kafka_CreateTopics_result_t *r = rd_kafka_event_CreateTopics_result(ev);
    if (rd_kafka_event_error(ev) || !r) {
        td_log_warn(bus->log, "bus: creating topics failed (%s); relying on the broker's "
                    "auto-creation", rd_kafka_event_error_string(ev));
    } else {
        size_t n;
        const rd_kafka_topic_result_t **t = rd_kafka_CreateTopics_result_topics(r, &n);
        for (size_t i = 0; i < n; i++) {
            rd_kafka_resp_err_t e = rd_kafka_topic_result_error(t[i]);
            if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
                td_log_info(bus->log, "bus: created topic %s", rd_kafka_topic_result_name(t[i]));
            else if (e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
                td_log_warn(bus->log, "bus: topic %s: %s", rd_kafka_topic_result_name(t[i]),
                            rd_kafka_err2str(e));
        }
    }
    k->admin_waiting = 0;
}

static void on_tick(uv_timer_t *t)
{
    struct kafka *k = t->data;
    rd_kafka_poll(k->producer, 0);   /* statistics, errors, stray reports */
    if (k->admin_waiting) {
        rd_kafka_event_t *ev = rd_kafka_queue_poll(k->admin_q, 0);
        if (ev) {
            admin_result(k, ev);
            rd_kafka_event_destroy(ev);
        }
    }
    for (struct kgroup *g = k->groups; g; g = g->next)
        if (g->rk)
            consume(g);
}

static int kafka_start(struct td_bus *bus)
{
    char err[512];
    struct kafka *k = calloc(1, sizeof *k);
    if (!k)
        return -ENOMEM;
    k->bus = bus;
    bus->impl = k;
    static const char *const kv[] = {
        "enable.idempotence", "true", "acks", "all", "compression.codec", "lz4",
        "linger.ms", "0", "message.timeout.ms", "0", "partitioner", "murmur2_random",
        "max.in.flight.requests.per.connection", "5", NULL};
    rd_kafka_conf_t *c = base_conf(bus, err, sizeof err);
    if (!c || set_all(c, kv, err, sizeof err)) {
        td_log_error(bus->log, "bus: producer configuration: %s", err);
        if (c)
            rd_kafka_conf_destroy(c);
        return -EINVAL;
    }
    k->pio = calloc(1, sizeof *k->pio);
    if (!k->pio) {
        rd_kafka_conf_destroy(c);
        return -ENOMEM;
    }
    rd_kafka_conf_set_opaque(c, k->pio);
    rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
    rd_kafka_conf_set_stats_cb(c, on_stats);
    rd_kafka_conf_set_error_cb(c, on_error);
    rd_kafka_conf_set_log_cb(c, on_log);
    k->producer = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err);
    if (!k->producer) {
        rd_kafka_conf_destroy(c);
        td_log_error(bus->log, "bus: producer: %s", err);
        return -EINVAL;
    }
    rd_kafka_set_log_queue(k->producer, NULL);
    if (bus->metrics)
        td_metrics_describe(bus->metrics, "td_bus_consumer_lag", TD_METRIC_GAUGE,
                            "Messages in the topic not yet handled by the group.", NULL, 0);
    int rc = watch(k, k->pio, rd_kafka_queue_get_main(k->producer));
    if (rc)
        return rc;
    for (struct bus_sub *s = bus->subs; s; s = s->next) {
        struct kgroup *g = k->groups;
        while (g && strcmp(g->name, s->group) != 0)
            g = g->next;
        if (!g) {
            if (!(g = calloc(1, sizeof *g)) || !(g->name = strdup(s->group))) {
                free(g);
                return -ENOMEM;
            }
            g->k = k;
            g->next = k->groups;
            k->groups = g;
        }
        if (add_topic(k, s->topic) || add_topic(k, s->dlq_topic))
            return -ENOMEM;
    }
    static const char *const contract[] = {"task-events", "reminders", "task-updates"};
    for (size_t i = 0; i < 3; i++)
        if (add_topic(k, contract[i]))
            return -ENOMEM;
    k->admin_q = rd_kafka_queue_new(k->producer);
    create_topics(k);
    /* Groups join at once, not after the topics' creation: a broker without the admin API
     * (or a slow controller) would hold them up, and a subscription to a topic that does
     * not exist yet picks it up at the next metadata refresh. */
    start_groups(k);
    uv_timer_init(bus->loop, &k->tick);
    k->tick.data = k;
    k->tick_started = 1;
    k->open++;
    return uv_timer_start(&k->tick, on_tick, KAFKA_TICK_MS, KAFKA_TICK_MS);
}

static int kafka_is_up(const struct td_bus *bus, char *reason, size_t reasonlen)
{
    const struct kafka *k = bus->impl;
    if (k && k->broker_up)
        return 1;
    snprintf(reason, reasonlen, "Kafka is unreachable%s%s", k && *k->last_err ? ": " : "",
             k ? k->last_err : "");
    return 0;
}

static size_t kafka_pending(const struct td_bus *bus)
{
    const struct kafka *k = bus->impl;
    return k ? k->npending : 0;
}

static void handle_closed(uv_handle_t *h)
{
    struct kafka *k = h->data;
    if (h->type == UV_POLL) {
        struct kclient *io = ((uv_poll_t *)h)->data;
        k = io->k;
        close(io->fds[0]);
        close(io->fds[1]);
        free(io);
    }
    if (--k->open)
        return;
    struct td_bus *bus = k->bus;
    for (size_t i = 0; i < k->ntopics; i++)
        free(k->topics[i]);
    free(k->topics);
    free(k);
    bus->impl = NULL;
    bus_closed(bus);
}

/* Leaving the group and flushing block for a bounded time; this runs once, at shutdown. */
static void kafka_close(struct td_bus *bus)
{
    struct kafka *k = bus->impl;
    if (!k) {
        bus_closed(bus);
        return;
    }
    struct kgroup *g;
    while ((g = k->groups)) {
        k->groups = g->next;
        if (g->rk) {
            if (g->io->q)
                rd_kafka_queue_destroy(g->io->q);
            rd_kafka_consumer_close(g->rk);   /* commits the stored offsets */
            rd_kafka_destroy(g->rk);
        }
        if (g->io && g->io->watched)
            uv_close((uv_handle_t *)&g->io->poll, handle_closed);
        else
            free(g->io);
        free(g->name);
        free(g);
    }
    if (k->producer) {
        rd_kafka_flush(k->producer, KAFKA_FLUSH_MS);
        rd_kafka_purge(k->producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(k->producer, 0);
        if (k->admin_q)
            rd_kafka_queue_destroy(k->admin_q);
        if (k->pio->q)
            rd_kafka_queue_destroy(k->pio->q);
        if (k->pio->watched)
            uv_close((uv_handle_t *)&k->pio->poll, handle_closed);
        else
            free(k->pio);
        rd_kafka_destroy(k->producer);
    } else {
        free(k->pio);
    }
    if (k->tick_started) {
        uv_close((uv_handle_t *)&k->tick, handle_closed);
        return;
    }
    k->open++;   /* no timer to close: release our own share instead */
    k->tick.data = k;
    k->tick.type = UV_TIMER;
    handle_closed((uv_handle_t *)&k->tick);
}

const struct bus_driver td_bus_kafka_driver = {
    .start = kafka_start,
    .publish = kafka_publish,
    .commit = kafka_commit,
    .room = kafka_room,
    .is_up = kafka_is_up,
    .pending = kafka_pending,
    .close = kafka_close,
};
