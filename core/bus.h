/* The event bus (CONTRIBUTING.md, "Data and events"): publish(topic, key, event) and
 * subscribe(topic, group, handler) over two drivers that roles cannot tell apart.
 *
 *   kafka  librdkafka: idempotent producer (acks=all, lz4), consumer groups with the
 *          cooperative-sticky assignor, offsets stored only after the handler says done.
 *   local  in-process, for `todod all`: a publish counts as delivered only once every
 *          subscribed group's handler has finished with it, so the outbox row stays
 *          unpublished until its effects are committed and a crash loses nothing.
 *
 * Delivery to handlers is at-least-once and in order per key within a group: one message
 * per lane (Kafka partition, or hash of the key on the local bus) is in a handler at a
 * time. A handler ends each message with td_bus_done: 0 when its effect is committed,
 * TD_BUS_RETRY (or any other negative code) to try again after a backoff, TD_BUS_WAIT
 * when a dependency is down, TD_BUS_REJECT when the message can never succeed. A message
 * rejected, or failing max_attempts times, goes to the dead-letter topic "<topic>.dlq"
 * with the error, and the lane moves on.
 * Handlers make their effects idempotent with an inbox row (proto/sql: todod_inbox_claim).
 */
#ifndef TD_BUS_H
#define TD_BUS_H
#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include "core/config.h"
#include "core/log.h"
#include "core/metrics.h"

struct td_bus;
struct td_bus_delivery;   /* one message in a handler; valid until td_bus_done */

/* td_bus_done statuses besides 0. RETRY: this message failed (counts toward the dead
 * letter). WAIT: something it needs is down (the database): retry with backoff for as
 * long as it takes; the message is not at fault. REJECT: it can never succeed. */
enum {
    TD_BUS_RETRY = -11,    /* -EAGAIN */
    TD_BUS_REJECT = -22,   /* -EINVAL */
    TD_BUS_WAIT = -111,    /* -ECONNREFUSED */
};

struct td_bus_msg {
    const char *topic;
    const char *key;          /* NUL-terminated */
    const char *value;        /* NUL-terminated; len excludes the NUL */
    size_t      len;
    const char *traceparent;  /* "" when the message carried none */
    int32_t     partition;    /* lane */
    int64_t     offset;       /* Kafka offset; a sequence number on the local bus */
    int         attempt;      /* 1 on first delivery */
    const char *error;        /* on a dead-letter topic: why it got there; "" otherwise */
    const char *failed_group; /* on a dead-letter topic: the consumer group that gave up */
};

/* Publish outcome: 0 once the broker acknowledged (kafka) or every handler finished
 * (local); negative when the message can never be delivered (too large, unknown topic).
 * Transient broker outages never fail a publish: it waits. */
typedef void (*td_bus_published_cb)(int status, void *arg);
typedef void (*td_bus_handler)(const struct td_bus_msg *msg, struct td_bus_delivery *d,
                               void *arg);
typedef void (*td_bus_closed_cb)(void *arg);

struct td_bus_opts {
    enum td_bus_driver driver;
    const char        *brokers;          /* kafka: bootstrap servers */
    int                partitions;       /* kafka: for topics created when missing */
    int                replication;
    int                fetch_wait_ms;    /* kafka: consumers' fetch.wait.max.ms (0: 50) */
    int                max_attempts;     /* then the dead-letter topic */
    const char        *client_id;        /* e.g. "todod-audit" */
    struct td_log     *log;              /* not owned */
    struct td_metrics *metrics;          /* not owned; may be NULL */
};

int  td_bus_open(uv_loop_t *loop, const struct td_bus_opts *opts, struct td_bus **out);
/* Before td_bus_start. group: the consumer group ("todod-audit"); the topic's dead-letter
 * topic is created with it. */
int  td_bus_subscribe(struct td_bus *bus, const char *topic, const char *group,
                      td_bus_handler handler, void *arg);
/* Lets up to depth consecutive messages of one lane into the handler at once (default 1),
 * for handlers that apply a group of messages together. The handler must apply their
 * effects in delivery order; they are committed in order whatever order they finish in.
 * A message to retry waits for its backoff while later ones of its lane may finish. */
int  td_bus_set_depth(struct td_bus *bus, const char *topic, const char *group, int depth);
/* Subscribes group to the dead-letter topic of every subscription made so far (call after
 * the roles subscribed): on the local bus, where no broker keeps dead letters, this is
 * how they are stored. msg->error says why each one is there. */
int  td_bus_subscribe_dead_letters(struct td_bus *bus, const char *group,
                                   td_bus_handler handler, void *arg);
/* Starts creating missing topics and joins the consumer groups; returns at once. */
int  td_bus_start(struct td_bus *bus);
/* Copies topic, key, value and traceparent (may be NULL). cb may be NULL. Returns 0 (cb
 * will run exactly once, later) or a negative code (cb never runs). */
int  td_bus_publish(struct td_bus *bus, const char *topic, const char *key,
                    const char *value, size_t len, const char *traceparent,
                    td_bus_published_cb cb, void *arg);
void td_bus_done(struct td_bus_delivery *d, int status, const char *why);
/* The message a delivery carries (valid until td_bus_done). */
const struct td_bus_msg *td_bus_message(const struct td_bus_delivery *d);
/* Publishes still queued and handlers in progress: drain waits for these to reach 0. */
size_t td_bus_pending(const struct td_bus *bus);
/* 1 when the broker answers (always on the local bus); reason says why not. */
int  td_bus_is_up(const struct td_bus *bus, char *reason, size_t reasonlen);
/* Stops consuming, leaves the groups (storing offsets of finished messages), flushes
 * what is published for a short while, frees everything; cb runs after. */
void td_bus_close(struct td_bus *bus, td_bus_closed_cb cb, void *arg);

#endif
