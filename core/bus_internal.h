/* Shared by core/bus.c (the dispatcher: lanes, retries, dead letters) and the drivers
 * core/bus_local.c and core/bus_kafka.c. Nothing else includes it. */
#ifndef TD_BUS_INTERNAL_H
#define TD_BUS_INTERNAL_H
#include "core/bus.h"

enum {
    BUS_RETRY_MIN_MS = 100,
    BUS_RETRY_MAX_MS = 5000,
    BUS_QUEUE_HIGH = 2000,      /* deliveries queued in lanes: stop fetching */
    BUS_QUEUE_LOW = 500,        /* ... and fetch again below this */
    BUS_LOCAL_LANES = 16,
};

struct bus_header { const char *name, *value; };

struct bus_sub;

/* One message waiting for, or inside, a handler. Owns a copy of the message. */
struct td_bus_delivery {
    struct td_bus_delivery *next;     /* in the lane's waiting or active list */
    struct bus_sub         *sub;
    int                     done;     /* finished: committed once all before it are */
    uint64_t                retry_at; /* loop time of its next attempt; 0 when none due */
    int                     failures; /* its own failures (TD_BUS_WAIT does not count) */
    struct td_bus_msg       msg;
    void                   *ref;     /* driver's: the local publish (Kafka needs none) */
    char                   *why;     /* last failure */
    char                   *error;   /* msg.error's copy (dead letters), or NULL */
    char                   *group;   /* msg.failed_group's copy (dead letters), or NULL */
    char                   *mem;     /* topic, key, value, traceparent */
};

/* One partition of one subscription. Up to sub->depth messages are handed out at a time
 * (in order); they are committed in order, whatever order they finish in. */
struct bus_lane {
    struct bus_sub         *sub;
    int32_t                 partition;
    struct td_bus_delivery *head, *tail;       /* waiting for the handler */
    struct td_bus_delivery *ahead, *atail;     /* handed out, not yet committed */
    int                     nactive;           /* in the handler */
    int                     nretry;            /* waiting for a retry: nothing overtakes them */
    uv_timer_t             *retry;             /* heap; closed with the bus */
};

struct bus_sub {
    struct bus_sub  *next;
    struct td_bus   *bus;
    char            *topic, *group, *dlq_topic;
    td_bus_handler   handler;
    void            *arg;
    int              depth;     /* messages of one lane in the handler at once */
    struct bus_lane **lanes;
    int32_t          nlanes;
    struct td_metric_series *m_ok, *m_retry, *m_dead;
};

struct bus_driver {
    int  (*start)(struct td_bus *bus);
    int  (*publish)(struct td_bus *bus, const char *topic, const char *key,
                    const char *value, size_t len, const struct bus_header *hdrs, int nhdrs,
                    td_bus_published_cb cb, void *arg);
    /* the handler finished (or the message went to the dead-letter topic) */
    void (*commit)(struct td_bus *bus, struct td_bus_delivery *d);
    void (*room)(struct td_bus *bus);       /* lanes drained below BUS_QUEUE_LOW */
    int  (*is_up)(const struct td_bus *bus, char *reason, size_t reasonlen);
    size_t (*pending)(const struct td_bus *bus);   /* publishes not yet delivered */
    void (*close)(struct td_bus *bus);      /* calls bus_closed when done */
};

struct td_bus {
    uv_loop_t               *loop;
    struct td_log           *log;
    struct td_metrics       *metrics;
    const struct bus_driver *drv;
    void                    *impl;          /* driver state */
    char                    *brokers, *client_id;
    int                      partitions, replication, max_attempts, fetch_wait_ms;
    struct bus_sub          *subs;
    size_t                   queued;        /* deliveries in lanes, not yet finished */
    int                      starved;       /* the driver stopped fetching: call room */
    int                      closing;
    unsigned                 open_handles;
    td_bus_closed_cb         closed_cb;
    void                    *closed_arg;
    struct td_metric_series *m_published, *m_publish_err;
};

extern const struct bus_driver td_bus_local_driver;
extern const struct bus_driver td_bus_kafka_driver;

/* A copy of the message; NULL when out of memory. */
struct td_bus_delivery *bus_delivery_new(struct bus_sub *sub, const char *topic,
                                         const char *key, size_t keylen, const char *value,
                                         size_t len, const char *traceparent, size_t tplen,
                                         int32_t partition, int64_t offset);
/* Hands a delivery to its lane; the handler runs now if the lane is idle. */
void bus_deliver(struct td_bus *bus, struct td_bus_delivery *d);
/* A dead letter's reason and the group that gave up, copied into d (msg.error,
 * msg.failed_group). group may be NULL. */
void bus_delivery_set_error(struct td_bus_delivery *d, const char *error, size_t len,
                            const char *group, size_t grouplen);
/* Kafka revoked a partition: queued deliveries there are dropped (redelivered elsewhere). */
void bus_revoke(struct bus_sub *sub, int32_t partition);
/* The driver finished closing; the bus frees itself once its own handles are closed. */
void bus_closed(struct td_bus *bus);
void bus_handle_closed(uv_handle_t *h);
uint32_t bus_key_hash(const char *key);

#endif
