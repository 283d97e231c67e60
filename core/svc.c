/* The runtime every todod process shares: start-up in order (logs, metrics, database,
 * HTTP, roles), the three probes, and a graceful drain on SIGTERM/SIGINT. */
#include "core/svc.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bus.h"
#include "core/db.h"
#include "core/door.h"
#include "core/failpoint.h"
#include "core/http.h"
#include "core/http_cors.h"
#include "core/outbox.h"
#include "core/migrate.h"
#include "core/pgembed.h"
#include "core/svc_roles.h"
#include "core/tz.h"

struct svc_run {
    struct td_svc             svc;
    const struct td_svc_plan *plan;
    struct td_cors           *cors;   /* NULL: CORS off */
    void                    **states;
    int                       started_roles;
    struct td_log             log;
    uv_loop_t                 loop;
    uv_signal_t               sigterm, sigint;
    uv_timer_t                deadline;
    int                       signals;
    int                       hard_stop;
    int                       draining;
    int                       shutting_down;
    int                       pending_drains;
    struct td_pgembed        *pg;
    char                     *conninfo;
    int                       closing_parts;
    uint64_t                  started_ms;
};

/* ---------- probes ---------- */

static void handle_health(struct td_http_req *req, void *arg)
{
    struct svc_run *run = arg;
    char body[256];
    int n = snprintf(body, sizeof body,
                     "{\"status\":\"ok\",\"role\":\"%s\",\"version\":\"%s\",\"uptime_seconds\":%.3f}",
                     run->plan->name, TODOD_VERSION,
                     (double)(uv_now(run->svc.loop) - run->started_ms) / 1000.0);
    td_http_respond(req, 200, "application/json", body, (size_t)n);
}

static void handle_metrics(struct td_http_req *req, void *arg)
{
    struct svc_run *run = arg;
    struct td_buf out = {0};
    if (td_metrics_render(run->svc.metrics, &out) != 0) {
        td_buf_free(&out);
        td_http_problem(req, 500, "internal", "Internal Server Error", "metrics unavailable", NULL);
        return;
    }
    td_http_respond_buf(req, 200, "text/plain; version=0.0.4; charset=utf-8", &out);
}

/* Roles' own checks; on failure reason names the role. */
static int roles_ready(struct svc_run *run, char *reason, size_t len)
{
    for (size_t i = 0; i < run->plan->nroles; i++) {
        const struct td_role *r = run->plan->roles[i];
        struct td_health h = {.ok = 1};
        if (r->health && (r->health(run->states[i], &h) != 0 || !h.ok)) {
            snprintf(reason, len, "%s: %s", r->name, h.reason[0] ? h.reason : "not ready");
            return 0;
        }
    }
    return 1;
}

static void answer_ready(struct td_http_req *req, struct svc_run *run, const char *db_state,
                         const char *failure)
{
    char reason[300];
    if (!failure && run->draining)
        failure = "draining: the process is shutting down";
    if (!failure && !roles_ready(run, reason, sizeof reason))
        failure = reason;
    if (failure) {
        td_http_add_header(req, "Retry-After", "1");
        td_http_problem(req, 503, "not-ready", "Service Unavailable", failure, NULL);
        return;
    }
    char body[160];
    int n = snprintf(body, sizeof body, "{\"status\":\"ready\",\"checks\":{\"database\":\"%s\"}}",
                     db_state);
    td_http_respond(req, 200, "application/json", body, (size_t)n);
}

struct ready_probe {
    struct td_http_req *req;
    struct svc_run     *run;
};

static void on_ready_query(int status, struct td_db_res *res, void *arg)
{
    struct ready_probe *p = arg;
    (void)res;
    char why[160];
    if (status != 0)
        snprintf(why, sizeof why, "database: %s", status == -ETIMEDOUT ? "timed out"
                 : status == -EIO ? "query failed" : "unavailable");
    answer_ready(p->req, p->run, "ok", status == 0 ? NULL : why);
    free(p);
}

static void handle_ready(struct td_http_req *req, void *arg)
{
    struct svc_run *run = arg;
    if (!run->svc.db) {
        answer_ready(req, run, "not used", NULL);
        return;
    }
    char reason[160], why[200];
    if (!td_db_is_up(run->svc.db, reason, sizeof reason)) {
        snprintf(why, sizeof why, "database: %s", reason);
        answer_ready(req, run, "down", why);
        return;
    }
    struct ready_probe *p = malloc(sizeof *p);
    if (!p || td_db_exec_sql(run->svc.db, "SELECT 1", 0, NULL, on_ready_query, p) != 0) {
        free(p);
        answer_ready(req, run, "down", "database: cannot send the check");
        return;
    }
    p->req = req;
    p->run = run;
}

/* ---------- shutdown ---------- */

static void on_handle_closed(uv_handle_t *h)
{
    (void)h;
}

static void after_http_closed(void *arg)
{
    struct svc_run *run = arg;
    run->svc.http = NULL;
    uv_close((uv_handle_t *)&run->sigterm, on_handle_closed);
    uv_close((uv_handle_t *)&run->sigint, on_handle_closed);
    uv_close((uv_handle_t *)&run->deadline, on_handle_closed);
}

static void after_db_closed(void *arg)
{
    struct svc_run *run = arg;
    run->svc.db = NULL;
    for (int i = run->started_roles - 1; i >= 0; i--)
        if (run->plan->roles[i]->fini)
            run->plan->roles[i]->fini(run->states[i]);
    run->started_roles = 0;
    if (run->svc.http)
        td_http_close(run->svc.http, after_http_closed, run);
    else
        after_http_closed(run);
}

static void on_part_closed(void *arg)
{
    struct svc_run *run = arg;
    if (--run->closing_parts == 0)
        after_db_closed(run);
}

/* Order matters: the bus stops delivering and leaves its groups (offsets of finished
 * messages are committed), the relay stops, then the database closes so that work still
 * queued fails with -ECANCELED and its handlers answer; roles end next; HTTP frees what is
 * left. */
static void shutdown_now(struct svc_run *run)
{
    if (run->shutting_down)
        return;
    run->shutting_down = 1;
    uv_timer_stop(&run->deadline);
    run->closing_parts = 1;
    if (run->svc.bus) {
        run->closing_parts++;
        td_bus_close(run->svc.bus, on_part_closed, run);
        run->svc.bus = NULL;
    }
    if (run->svc.outbox) {
        run->closing_parts++;
        td_outbox_close(run->svc.outbox, on_part_closed, run);
        run->svc.outbox = NULL;
    }
    if (run->svc.db) {
        run->closing_parts++;
        td_db_close(run->svc.db, on_part_closed, run);
    }
    on_part_closed(run);
}

static void on_part_drained(void *arg)
{
    struct svc_run *run = arg;
    if (--run->pending_drains == 0) {
        td_log_info(run->svc.log, "drained; shutting down");
        shutdown_now(run);
    }
}

static void on_deadline(uv_timer_t *t)
{
    struct svc_run *run = t->data;
    td_log_warn(run->svc.log, "drain deadline passed with %d connection(s) open; closing them",
                run->svc.http ? td_http_open_connections(run->svc.http) : 0);
    shutdown_now(run);
}

static void begin_drain(struct svc_run *run, int signum)
{
    run->draining = 1;
    td_log_info(run->svc.log, "received %s; draining (deadline %d ms)", strsignal(signum),
                run->svc.cfg->drain_timeout_ms);
    uv_timer_start(&run->deadline, on_deadline, (uint64_t)run->svc.cfg->drain_timeout_ms, 0);
    run->pending_drains = 1;   /* held until every part has been asked */
    for (int i = 0; i < run->started_roles; i++)
        if (run->plan->roles[i]->drain) {
            run->pending_drains++;
            run->plan->roles[i]->drain(run->states[i], on_part_drained, run);
        }
    run->pending_drains++;
    td_http_drain(run->svc.http, on_part_drained, run);
    on_part_drained(run);
}

static void on_signal(uv_signal_t *s, int signum)
{
    struct svc_run *run = s->data;
    if (++run->signals > 1) {
        td_log_warn(run->svc.log, "second %s: stopping at once", strsignal(signum));
        run->hard_stop = 1;
        uv_stop(&run->loop);
        return;
    }
    begin_drain(run, signum);
}

/* ---------- start-up ---------- */

static int start_database(struct svc_run *run, const struct td_config *cfg, unsigned needs,
                          char *err, size_t errlen)
{
    const char *conninfo = cfg->database_url;
    int migrate = cfg->migrate || run->plan->embedded_db;   /* `all` keeps its schema current */
    if (!conninfo) {
        if (!run->plan->embedded_db) {
            snprintf(err, errlen, "--database-url (TODOD_DATABASE_URL) is required for `todod %s`",
                     run->plan->name);
            return -EINVAL;
        }
        struct td_pgembed_opts o = {.data_dir = cfg->data_dir, .log = &run->log};
        int rc = td_pgembed_start(&o, &run->pg, err, errlen);
        if (rc)
            return rc;
        conninfo = td_pgembed_conninfo(run->pg);
        migrate = 1;   /* a private cluster is ours to keep current */
    }
    if (migrate) {
        int applied = 0;
        int rc = td_migrate_apply(conninfo, td_migrations, td_migrations_count, &run->log,
                                  &applied, err, errlen);
        if (rc)
            return rc;
    }
    struct td_db_opts dbo = {.conninfo = conninfo, .pool_size = cfg->db_pool_size,
                             .log = &run->log, .metrics = run->svc.metrics};
    (void)needs;
    int rc = td_db_open(run->svc.loop, &dbo, &run->svc.db);
    if (rc)
        snprintf(err, errlen, "cannot open the database pool: %s", strerror(-rc));
    if (!rc && !(run->conninfo = strdup(conninfo)))
        rc = -ENOMEM;
    return rc;
}

static int open_bus(struct svc_run *run, const struct td_config *cfg, char *err, size_t errlen)
{
    char client_id[64];
    snprintf(client_id, sizeof client_id, "todod-%s", run->plan->name);
    struct td_bus_opts bo = {
        .driver = cfg->bus, .brokers = cfg->kafka_brokers, .partitions = cfg->kafka_partitions,
        .replication = cfg->kafka_replication,
        .fetch_wait_ms = cfg->kafka_fetch_wait_ms, .max_attempts = cfg->consumer_max_attempts,
        .client_id = client_id, .log = &run->log, .metrics = run->svc.metrics,
    };
    int rc = td_bus_open(run->svc.loop, &bo, &run->svc.bus);
    if (rc)
        snprintf(err, errlen, "cannot open the event bus: %s", strerror(-rc));
    return rc;
}

/* ---------- dead letters of the local bus ---------- */

static void on_dead_letter_stored(int status, struct td_db_res *res, void *arg)
{
    /* stored before the original counts as handled, so it is never only in memory */
    td_bus_done(arg, status == 0 ? 0 : status == -EIO ? TD_BUS_RETRY : TD_BUS_WAIT,
                td_db_res_error(res));
}

static void on_dead_letter(const struct td_bus_msg *msg, struct td_bus_delivery *d, void *arg)
{
    struct svc_run *run = arg;
    const char *params[] = {msg->topic, msg->key, msg->value, msg->error, msg->failed_group};
    int rc = td_db_exec_sql(run->svc.db,
        "INSERT INTO dead_letters (topic, key, event, error, consumer_group) "
        "VALUES ($1, $2, $3, $4, $5)", 5, params, on_dead_letter_stored, d);
    if (rc)
        td_bus_done(d, TD_BUS_WAIT, strerror(-rc));
}

/* After the roles subscribed: the bus joins its groups, the relay starts publishing. */
static int start_events(struct svc_run *run, unsigned needs, char *err, size_t errlen)
{
    int rc = 0;
    if (run->svc.bus && run->svc.db && run->svc.cfg->bus == TD_BUS_LOCAL &&
        (rc = td_bus_subscribe_dead_letters(run->svc.bus, "todod-dead-letters", on_dead_letter,
                                            run)) != 0) {
        snprintf(err, errlen, "cannot keep dead letters: %s", strerror(-rc));
        return rc;
    }
    if (run->svc.bus && (rc = td_bus_start(run->svc.bus)) != 0) {
        snprintf(err, errlen, "cannot start the event bus (%s); see the log", strerror(-rc));
        return rc;
    }
    if ((needs & TD_NEED_RELAY) && run->svc.cfg->bus == TD_BUS_LOCAL && !run->plan->embedded_db)
        td_log_warn(&run->log, "the outbox relay publishes on the local bus: only roles in this "
                    "process (%s) see the events; roles in other processes need --bus kafka",
                    run->plan->name);
    if (needs & TD_NEED_RELAY) {
        struct td_outbox_opts oo = {.conninfo = run->conninfo, .bus = run->svc.bus,
                                    .pool = run->svc.db, .log = &run->log,
                                    .metrics = run->svc.metrics};
        if ((rc = td_outbox_open(run->svc.loop, &oo, &run->svc.outbox)) != 0)
            snprintf(err, errlen, "cannot start the outbox relay: %s", strerror(-rc));
    }
    return rc;
}

static void handle_health(struct td_http_req *req, void *arg);
static void handle_ready(struct td_http_req *req, void *arg);
static void handle_metrics(struct td_http_req *req, void *arg);

/* Every process serves these; quiet: probes every few seconds would drown the access log. */
static const struct td_route_def probe_routes[] = {
    {"GET", "/health", handle_health, TD_ROUTE_QUIET},
    {"GET", "/ready", handle_ready, TD_ROUTE_QUIET},
    {"GET", "/metrics", handle_metrics, TD_ROUTE_QUIET},
    {0},
};

static int start_http(struct svc_run *run, const struct td_config *cfg, char *err, size_t errlen)
{
    struct td_http_opts ho = {
        .host = cfg->listen_host, .port = cfg->listen_port,
        .max_header_bytes = cfg->max_header_bytes, .max_headers = cfg->max_headers,
        .max_body_bytes = cfg->max_body_bytes, .request_timeout_ms = cfg->request_timeout_ms,
        .idle_timeout_ms = cfg->idle_timeout_ms, .max_connections = cfg->max_connections,
        .log = &run->log, .metrics = run->svc.metrics,
    };
    int rc = 0;
    if (cfg->cors_origins &&
        (rc = td_cors_new(cfg->cors_origins, cfg->cors_credentials, &run->cors, err, errlen)))
        return rc;
    ho.cors = run->cors;
    rc = td_http_new(run->svc.loop, &ho, &run->svc.http);
    if (!rc)
        rc = td_http_listen(run->svc.http);
    if (rc) {
        snprintf(err, errlen, "--listen %s:%d: %s", cfg->listen_host, cfg->listen_port,
                 uv_strerror(rc));
        return rc;
    }
    for (const struct td_route_def *r = probe_routes; r->method && !rc; r++)
        rc = td_http_route_flags(run->svc.http, r->method, r->pattern, r->flags, r->fn, run);
    return rc;
}

int td_svc_routes_dump(const struct td_role *const *roles, size_t n, struct td_buf *out)
{
    int rc = 0;
    for (const struct td_route_def *r = probe_routes; r->method && !rc; r++)
        rc = td_buf_printf(out, "%s %s\n", r->method, r->pattern);
    return rc ? -ENOMEM : td_roles_dump(roles, n, out);
}

static int start_roles(struct svc_run *run, char *err, size_t errlen)
{
    const struct td_svc_plan *plan = run->plan;
    run->states = calloc(plan->nroles ? plan->nroles : 1, sizeof *run->states);
    if (!run->states)
        return -ENOMEM;
    return td_roles_start(&run->svc, plan->roles, plan->nroles, run->states, &run->started_roles,
                          plan->embedded_db, err, errlen);
}

static void print_url(const struct td_config *cfg, int port)
{
    int v6 = strchr(cfg->listen_host, ':') != NULL;
    printf("todod listening on http://%s%s%s:%d\n", v6 ? "[" : "", cfg->listen_host,
           v6 ? "]" : "", port);
    fflush(stdout);
}

/* Closes whatever start-up opened when it fails half-way. */
static void abort_start(struct svc_run *run)
{
    if (run->svc.http || run->svc.db || run->svc.bus) {
        run->shutting_down = 0;
        shutdown_now(run);
    } else {
        after_http_closed(run);
    }
    uv_run(&run->loop, UV_RUN_DEFAULT);
}

static void free_run(struct svc_run *run)
{
    if (run->states)
        for (size_t i = 0; i < run->plan->nroles; i++)
            free(run->states[i]);
    free(run->states);
    td_metrics_free(run->svc.metrics);
    td_door_free(run->svc.door);
    td_cors_free(run->cors);
    if (run->pg)
        td_pgembed_stop(run->pg);
    free(run->conninfo);
    free(run);
}

int td_svc_run(const struct td_config *cfg, const struct td_svc_plan *plan, char *err,
               size_t errlen)
{
    struct svc_run *run = calloc(1, sizeof *run);
    if (!run)
        return -ENOMEM;
    run->plan = plan;
    run->log = (struct td_log){.level = cfg->log_level, .format = cfg->log_format,
                               .role = plan->name, .fd = 2};
    run->svc.cfg = cfg;
    run->svc.log = &run->log;
    run->svc.loop = &run->loop;
    int rc = uv_loop_init(&run->loop);
    if (!rc)
        rc = td_metrics_new(&run->svc.metrics);
    if (rc) {
        free(run);
        return rc;
    }
    td_metrics_describe(run->svc.metrics, "td_build_info", TD_METRIC_GAUGE,
                        "Build information; the value is always 1.", NULL, 0);
    td_metric_set(td_metrics_series(run->svc.metrics, "td_build_info",
                                    "version=\"" TODOD_VERSION "\""), 1);
    uv_signal_init(&run->loop, &run->sigterm);
    uv_signal_init(&run->loop, &run->sigint);
    uv_timer_init(&run->loop, &run->deadline);
    run->sigterm.data = run->sigint.data = run->deadline.data = run;
    run->started_ms = uv_now(&run->loop);

    /* Time-zone names are checked against a set read from tzdata: read it now, before
     * the loop, never on a request. */
    int tz_rc = td_tz_init();
    if (tz_rc)
        td_log_warn(&run->log, "time zones: cannot read %s (%s); every zone name will be refused",
                    TD_TZ_DIR, strerror(-tz_rc));

    unsigned needs = plan->needs;
    for (size_t i = 0; i < plan->nroles; i++)
        needs |= plan->roles[i]->needs;
    if (needs & TD_NEED_RELAY)
        needs |= TD_NEED_DB | TD_NEED_BUS;
    if ((needs & TD_NEED_DB) && (rc = start_database(run, cfg, needs, err, errlen)) != 0)
        goto fail;
    if ((needs & TD_NEED_BUS) && (rc = open_bus(run, cfg, err, errlen)) != 0)
        goto fail;
    if ((rc = start_http(run, cfg, err, errlen)) != 0 || (rc = start_roles(run, err, errlen)) != 0 ||
        (rc = start_events(run, needs, err, errlen)) != 0)
        goto fail;
    uv_signal_start(&run->sigterm, on_signal, SIGTERM);
    uv_signal_start(&run->sigint, on_signal, SIGINT);
    td_log_info(&run->log, "started %s with %zu role(s) on port %d", plan->name, plan->nroles,
                td_http_port(run->svc.http));
    print_url(cfg, td_http_port(run->svc.http));

    uv_run(&run->loop, UV_RUN_DEFAULT);
    if (run->hard_stop) {
        rc = -EINTR;   /* handles stay open: the process is about to exit anyway */
        if (run->pg)
            td_pgembed_stop(run->pg);
        run->pg = NULL;
        td_metrics_free(run->svc.metrics);
        run->svc.metrics = NULL;
        return rc;
    }
    rc = uv_loop_close(&run->loop);
    if (rc) {
        snprintf(err, errlen, "shutdown left handles open (%s)", uv_strerror(rc));
        td_log_error(&run->log, "%s", err);
    } else {
        td_log_info(&run->log, "stopped cleanly");
    }
    free_run(run);
    return rc;

fail:
    abort_start(run);
    if (uv_loop_close(&run->loop) != 0)   /* a part that failed half-way kept a handle */
        td_log_error(&run->log, "start-up failure left handles open");
    free_run(run);
    return rc;
}
