/* The sync role (`todod sync`): serves GET /ws (WebSocket, core/ws.h) and POST
 * /api/ws-ticket, consumes task-updates and reminders as a broadcast (a consumer group of
 * its own per process) and fans each update out to every connection of its user on this
 * process, to no one else. The wire contract: README, "Live sync".
 *
 * A connection starts with {"type":"hello","seq":N} (N: the user's latest update), then,
 * with ?since=M, the updates after M (from the task_updates table, so any replica can
 * serve it) or {"type":"resync"}, then live ones. Until the hello is sent, live updates
 * of the user wait on the connection; every update is sent at most once per connection
 * (by its number). */
#ifndef TD_ROLE_SYNC_H
#define TD_ROLE_SYNC_H
#include <stddef.h>
#include <jansson.h>
#include "core/svc.h"
#include "core/ws.h"

#define SYNC_BUCKETS 1024          /* users hash table (chained) */
#define SYNC_TICKET_TTL_S 30

/* The role's settings block (sync_settings). */
struct sync_conf {
    char  *ws_origins;         /* comma-separated; NULL: the request's own origin */
    size_t max_message;        /* client message limit: 1009 past it */
    int    ping_interval_ms;
    int    idle_timeout_ms;
    size_t queue_max;          /* bytes waiting per connection: 1008 past it */
    int    max_connections;    /* WebSockets open at once: 503 past it */
};
extern const struct td_settings_group sync_settings;

struct sync;
struct sync_pending;

struct sync_user {
    char               *id;
    struct sync_client *clients;
    struct sync_user   *next;      /* bucket chain */
};

struct sync_client {
    struct sync         *s;
    struct sync_user    *user;     /* NULL once the connection is gone */
    struct td_ws_conn   *ws;
    long long            sent_seq; /* highest update number sent */
    int                  ready;    /* hello sent */
    int                  refs;     /* the connection + a resume query in flight */
    struct sync_pending *pending, *pending_tail;   /* live updates before the hello */
    struct sync_client  *prev, *next;
};

struct sync {
    struct td_svc          *svc;
    const struct sync_conf *conf;
    struct td_ws           *ws;
    struct sync_user       *buckets[SYNC_BUCKETS];
    int                     stopping;
    td_done_cb              drain_done;
    void                   *drain_arg;
    long long               fanned;   /* messages queued to connections (tests) */
};

/* Users and their connections (sync.c). */
struct sync_user *sync_user_find(struct sync *s, const char *id);
/* Adds c to the user's connections (creating the user). 0 or -ENOMEM. */
int  sync_attach(struct sync *s, struct sync_client *c, const char *user_id);
void sync_client_unref(struct sync_client *c);
/* Sends a task update (the data of a task-updates event) or queues it until the hello. */
void sync_client_update(struct sync_client *c, struct td_ws_msg *m, long long seq);
/* The frame of one update's data (a task-updates event's data): {"type":"task",...};
 * malloc'd, NULL when data is not an update. seq gets its number. */
char *sync_task_frame(json_t *data, long long *seq);
/* After the hello and what was missed: the live updates that waited are sent. */
void sync_client_ready(struct sync_client *c);
/* The connection of c is gone (a td_ws_closed_fn; arg is c). */
void sync_client_closed(struct td_ws_conn *ws, int code, void *arg);
/* routes.c: GET /ws and POST /api/ws-ticket, and their statements. */
extern const struct td_route_def sync_route_rows[];
extern const struct td_stmt_def sync_route_stmts[];
/* 1 when origin may open a WebSocket: on the list (comma-separated, "*" for any), or with
 * no list the request's own origin (http:// or https:// and host). */
int  sync_origin_allowed(const char *list, const char *origin, const char *host);

#endif
