/* WebSocket server connections (RFC 6455) on the shared loop, framed by wslay. A route
 * checks the opening handshake (td_ws_check), authenticates as it likes, then takes the
 * connection from the HTTP server (td_ws_accept). The server sends text messages; the
 * client is expected to send nothing but control frames.
 *
 * - Keepalive: a ping every ping_interval_ms; a connection from which nothing (a pong
 *   included) was heard for idle_timeout_ms is closed with 1001.
 * - Limits: a client frame or message longer than max_message closes with 1009 (wslay),
 *   an unmasked client frame with 1002.
 * - Backpressure: each connection queues at most queue_max bytes of messages beyond what
 *   the socket takes; one more closes it with 1008, so a client that does not read never
 *   holds up the others or the loop.
 * - A close (ours or the client's) waits at most TD_WS_CLOSE_GRACE_MS for the handshake
 *   to finish, then the socket is cut.
 * No wslay type leaves core/ws.c (house rule 4). */
#ifndef TD_WS_H
#define TD_WS_H
#include <stddef.h>
#include <uv.h>
#include "core/http.h"
#include "core/log.h"
#include "core/metrics.h"

#define TD_WS_CLOSE_GRACE_MS 2000

enum {
    TD_WS_NORMAL = 1000,
    TD_WS_GOING_AWAY = 1001,
    TD_WS_PROTOCOL_ERROR = 1002,
    TD_WS_ABNORMAL = 1006,        /* never sent: the socket went without a close */
    TD_WS_POLICY = 1008,
    TD_WS_TOO_BIG = 1009,
    TD_WS_INTERNAL = 1011,
};

struct td_ws_opts {
    size_t             max_message;        /* bytes of one client message */
    int                ping_interval_ms;
    int                idle_timeout_ms;
    size_t             queue_max;          /* bytes waiting per connection */
    int                max_connections;    /* open at once; 0: no cap */
    struct td_log     *log;                /* not owned */
    struct td_metrics *metrics;            /* not owned; may be NULL */
};

struct td_ws;
struct td_ws_conn;
struct td_ws_msg;

/* Runs once per accepted connection when it is gone (code: the close code sent or
 * received, TD_WS_ABNORMAL without one). It may run inside td_ws_send or td_ws_close for
 * that same connection; after it the connection must not be used. Never runs after
 * td_ws_free. */
typedef void (*td_ws_closed_fn)(struct td_ws_conn *c, int code, void *arg);

int  td_ws_new(uv_loop_t *loop, const struct td_ws_opts *opts, struct td_ws **out);
/* Closes every connection with 1001 and runs done once none is left (each gets at most
 * the close grace). New handshakes are refused with 503 from now on. */
void td_ws_shutdown(struct td_ws *ws, void (*done)(void *arg), void *arg);
/* Cuts what is left without callbacks and frees ws once its handles are closed (the
 * loop must run on). NULL is fine. */
void td_ws_free(struct td_ws *ws);
int  td_ws_count(const struct td_ws *ws);   /* open connections */

/* Sec-WebSocket-Accept for a client's Sec-WebSocket-Key (RFC 6455 4.2.2): out gets 28
 * characters and a NUL. -EINVAL when key is not the base64 of 16 bytes. */
int  td_ws_accept_key(const char *key, char out[29]);
/* 0 when req is a WebSocket opening handshake we can accept; otherwise answers it (400
 * bad key, 426 not an upgrade or not version 13) and returns -EINVAL. */
int  td_ws_check(struct td_http_req *req);
/* Takes req's connection (td_http_take), answers 101 and starts framing. on_closed (may
 * be NULL) runs when the connection is gone. On failure req is answered (503) and a
 * negative code returned; on_closed never runs. */
int  td_ws_accept(struct td_ws *ws, struct td_http_req *req, td_ws_closed_fn on_closed,
                  void *arg, struct td_ws_conn **out);

/* A text message shared by the connections it is queued on (refcounted). */
struct td_ws_msg *td_ws_msg_new(const char *text, size_t len);
struct td_ws_msg *td_ws_msg_ref(struct td_ws_msg *m);   /* another reference; returns m */
void td_ws_msg_unref(struct td_ws_msg *m);
/* Queues m (taking a reference). Returns 0, -EPIPE when the connection is closing, or
 * -ENOBUFS when it went past queue_max: then it is being closed with 1008. */
int  td_ws_send(struct td_ws_conn *c, struct td_ws_msg *m);
int  td_ws_send_text(struct td_ws_conn *c, const char *text, size_t len);
/* Starts the close handshake with code (reason may be NULL). */
void td_ws_close(struct td_ws_conn *c, int code, const char *reason);
/* Bytes queued on c and not yet handed to the socket. */
size_t td_ws_queued(const struct td_ws_conn *c);

#endif
