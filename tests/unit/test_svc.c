/* core/svc.c: the process runtime. td_svc_run runs in the test process itself (so ASan
 * sees its leaks) with a fake role that needs only HTTP; a client thread probes it and
 * ends it with SIGTERM. Assertions happen on the test thread after td_svc_run returns. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/http.h"
#include "core/svc.h"
#include "tests/support/net_harness.h"
#include "tests/support/proc_harness.h"

/* ------------------------------------------------------------ the fake role */

static char marks[256];        /* hooks append "init,start,..." (loop thread only) */
static atomic_int health_ok = 1;
static atomic_int never_drain;   /* 1: drain never calls done */
static int init_rc, start_rc;

static void mark(const char *what)
{
    strncat(marks, what, sizeof marks - strlen(marks) - 2);
    strcat(marks, ",");
}

struct fake {
    uv_loop_t  *loop;
    uv_timer_t  timer;
    td_done_cb  done;
    void       *done_arg;
    int         saw_http, saw_db, saw_cfg;
    int         timer_open;
};

static void h_fake(struct td_http_req *req, void *arg)
{
    (void)arg;
    td_http_respond(req, 200, "text/plain", "fake", 4);
}

static int fake_init(struct td_svc *svc, void *state)
{
    struct fake *f = state;
    mark("init");
    f->loop = svc->loop;
    f->saw_http = svc->http != NULL;
    f->saw_db = svc->db != NULL;
    f->saw_cfg = svc->cfg != NULL && svc->log != NULL && svc->metrics != NULL;
    if (!f->saw_http || f->saw_db || !f->saw_cfg)
        return -EPROTO;   /* td_svc_run then fails and the test sees it */
    if (init_rc)
        return init_rc;
    uv_timer_init(f->loop, &f->timer);
    f->timer.data = f;
    f->timer_open = 1;
    return 0;   /* /fake comes from the route table */
}

static int fake_start(void *state)
{
    (void)state;
    mark("start");
    return start_rc;
}

static void drain_later(uv_timer_t *t)
{
    struct fake *f = t->data;
    mark("drained");
    f->done(f->done_arg);
}

static void fake_drain(void *state, td_done_cb done, void *arg)
{
    struct fake *f = state;
    mark("drain");
    if (atomic_load(&never_drain))
        return;
    f->done = done;
    f->done_arg = arg;
    uv_timer_start(&f->timer, drain_later, 30, 0);   /* finishes its work a bit later */
}

static void fake_fini(void *state)
{
    struct fake *f = state;
    mark("fini");
    if (f->timer_open)   /* fini copes with an init that failed half-way */
        uv_close((uv_handle_t *)&f->timer, NULL);
}

static int fake_health(void *state, struct td_health *out)
{
    (void)state;
    out->ok = atomic_load(&health_ok);
    if (!out->ok)
        snprintf(out->reason, sizeof out->reason, "queue is stuck");
    return 0;
}

static const struct td_route_def fake_route_rows[] = {
    {"GET", "/fake", h_fake, 0},
    {0},
};
static const struct td_route_def *const fake_routes[] = {fake_route_rows, NULL};

static const struct td_role fake_role = {
    .name = "fake", .needs = TD_NEED_HTTP, .state_size = sizeof(struct fake),
    .routes = fake_routes,
    .init = fake_init, .start = fake_start, .drain = fake_drain, .fini = fake_fini,
    .health = fake_health,
};
static const struct td_role *const fake_roles[] = {&fake_role};
static const struct td_svc_plan fake_plan = {.name = "test", .roles = fake_roles, .nroles = 1};

static struct td_config cfg;

static void setup_config(void)
{
    td_config_defaults(&cfg);
    cfg.listen_port = td_test_free_port();
    cfg.log_level = TD_LOG_WARN;
    cfg.drain_timeout_ms = 3000;
}

TestSuite(svc, .init = setup_config, .fini = NULL);

/* ------------------------------------------------------------ the client thread */

struct probe {
    int    up;
    struct td_test_http health, ready_ok, ready_bad, metrics, fake, head;
    double sigterm_at;
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000 + (double)ts.tv_nsec / 1e6;
}

static void *client(void *arg)
{
    struct probe *p = arg;
    double t0 = now_ms();
    while (now_ms() - t0 < 10000) {
        if (td_test_http(cfg.listen_port, "GET", "/health", NULL, NULL, &p->health) == 0) {
            p->up = 1;
            break;
        }
        usleep(20 * 1000);
    }
    if (p->up) {
        td_test_http(cfg.listen_port, "GET", "/ready", NULL, NULL, &p->ready_ok);
        td_test_http(cfg.listen_port, "GET", "/fake", NULL, NULL, &p->fake);
        atomic_store(&health_ok, 0);
        td_test_http(cfg.listen_port, "GET", "/ready", NULL, NULL, &p->ready_bad);
        td_test_http(cfg.listen_port, "GET", "/metrics", NULL, NULL, &p->metrics);
    }
    p->sigterm_at = now_ms();
    kill(getpid(), SIGTERM);
    return NULL;
}

/* Runs td_svc_run with stdout captured; returns its result. */
static int run_svc(const struct td_svc_plan *plan, struct probe *p, char *err, size_t errlen,
                   char **out)
{
    fflush(stdout);
    int saved = dup(1);
    FILE *tmp = tmpfile();
    dup2(fileno(tmp), 1);
    pthread_t th;
    if (p)
        pthread_create(&th, NULL, client, p);
    int rc = td_svc_run(&cfg, plan, err, errlen);
    if (p)
        pthread_join(th, NULL);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    off_t n = lseek(fileno(tmp), 0, SEEK_END);
    *out = calloc(1, (size_t)n + 1);
    if (n > 0)
        cr_assert_eq(pread(fileno(tmp), *out, (size_t)n, 0), n);
    fclose(tmp);
    return rc;
}

static json_t *parse(const struct td_test_http *r)
{
    json_error_t e;
    json_t *o = json_loadb(r->body, r->body_len, 0, &e);
    cr_assert_not_null(o, "not JSON (%s): %s", e.text, r->body);
    return o;
}

static const char *jstr(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void free_probe(struct probe *p)
{
    td_test_http_free(&p->health);
    td_test_http_free(&p->ready_ok);
    td_test_http_free(&p->ready_bad);
    td_test_http_free(&p->metrics);
    td_test_http_free(&p->fake);
    td_test_http_free(&p->head);
}

/* ------------------------------------------------------------ tests */

Test(svc, probes_then_clean_sigterm)
{
    struct probe p = {0};
    char err[256] = "", *out = NULL;
    double t0 = now_ms();
    int rc = run_svc(&fake_plan, &p, err, sizeof err, &out);
    double stop_ms = now_ms() - p.sigterm_at;
    cr_assert(p.up, "the service never answered /health");
    cr_assert_eq(rc, 0, "td_svc_run: %d %s", rc, err);

    char want[64];
    snprintf(want, sizeof want, "todod listening on http://127.0.0.1:%d\n", cfg.listen_port);
    cr_assert_str_eq(out, want);

    /* /health */
    cr_assert_eq(p.health.status, 200);
    json_t *o = parse(&p.health);
    cr_assert_str_eq(jstr(o, "status"), "ok");
    cr_assert_str_eq(jstr(o, "role"), "test");
    cr_assert_str_eq(jstr(o, "version"), TODOD_VERSION);
    cr_assert(json_is_number(json_object_get(o, "uptime_seconds")));
    json_decref(o);
    char *ct = td_test_header(p.health.headers, "Content-Type");
    cr_assert_str_eq(ct, "application/json");
    free(ct);

    /* /ready while the role is healthy, and after it says no */
    cr_assert_eq(p.ready_ok.status, 200, "%s", p.ready_ok.body);
    o = parse(&p.ready_ok);
    cr_assert_str_eq(jstr(o, "status"), "ready");
    cr_assert_str_eq(jstr(json_object_get(o, "checks"), "database"), "not used");
    json_decref(o);
    cr_assert_eq(p.ready_bad.status, 503, "%s", p.ready_bad.body);
    o = parse(&p.ready_bad);
    cr_assert_str_eq(jstr(o, "type"), TD_PROBLEM_BASE "not-ready");
    cr_assert_eq(json_integer_value(json_object_get(o, "status")), 503);
    cr_assert_str_eq(jstr(o, "detail"), "fake: queue is stuck", "names the role and its reason");
    json_decref(o);
    ct = td_test_header(p.ready_bad.headers, "Content-Type");
    cr_assert_str_eq(ct, "application/problem+json");
    free(ct);
    char *retry = td_test_header(p.ready_bad.headers, "Retry-After");
    cr_assert_not_null(retry);
    free(retry);

    /* the role's own route */
    cr_assert_eq(p.fake.status, 200);
    cr_assert_str_eq(p.fake.body, "fake");

    /* /metrics */
    cr_assert_eq(p.metrics.status, 200);
    ct = td_test_header(p.metrics.headers, "Content-Type");
    cr_assert_not_null(strstr(ct, "text/plain"), "%s", ct);
    cr_assert_not_null(strstr(ct, "version=0.0.4"), "%s", ct);
    free(ct);
    cr_assert_not_null(strstr(p.metrics.body, "# TYPE td_http_requests_total counter\n"));
    cr_assert_not_null(strstr(p.metrics.body,
        "td_http_requests_total{route=\"/health\",method=\"GET\",status=\"200\"} "),
        "%s", p.metrics.body);
    cr_assert_not_null(strstr(p.metrics.body,
        "td_http_requests_total{route=\"/ready\",method=\"GET\",status=\"503\"} 1\n"),
        "%s", p.metrics.body);
    cr_assert_not_null(strstr(p.metrics.body, "\nprocess_resident_memory_bytes "));
    cr_assert_not_null(strstr(p.metrics.body, "td_build_info{version=\"" TODOD_VERSION "\"} 1\n"));

    /* the hooks ran in order, drain before fini, each once */
    cr_assert_str_eq(marks, "init,start,drain,drained,fini,", "hooks: %s", marks);
    cr_assert_lt(stop_ms, 2500, "stopping took %.0f ms", stop_ms);
    cr_assert_lt(now_ms() - t0, 8000);
    free(out);
    free_probe(&p);
}

Test(svc, drain_deadline_stops_a_stuck_role)
{
    atomic_store(&never_drain, 1);
    cfg.drain_timeout_ms = 300;
    struct probe p = {0};
    char err[256] = "", *out = NULL;
    int rc = run_svc(&fake_plan, &p, err, sizeof err, &out);
    double took = now_ms() - p.sigterm_at;
    cr_assert(p.up);
    cr_assert_eq(rc, 0, "a passed deadline still ends cleanly: %s", err);
    cr_assert_str_eq(marks, "init,start,drain,fini,", "hooks: %s", marks);
    cr_assert_geq(took, 250, "waited %.0f ms for the stuck role", took);
    cr_assert_lt(took, 2500, "waited %.0f ms", took);
    free(out);
    free_probe(&p);
}

Test(svc, role_init_failure_names_the_role)
{
    init_rc = -EIO;
    char err[256] = "", *out = NULL;
    int rc = run_svc(&fake_plan, NULL, err, sizeof err, &out);
    cr_assert_eq(rc, -EIO);
    cr_assert_not_null(strstr(err, "fake"), "error names the role: %s", err);
    cr_assert_null(strchr(err, '\n'));
    cr_assert_str_eq(marks, "init,fini,", "a role whose init failed is ended, not drained");
    cr_assert_str_eq(out, "", "no URL printed when start-up fails");
    /* the port was released: it can be bound again */
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct td_http_opts o = {.host = "127.0.0.1", .port = cfg.listen_port,
                             .max_header_bytes = 4096, .max_headers = 10, .max_body_bytes = 10,
                             .request_timeout_ms = 100, .idle_timeout_ms = 100,
                             .max_connections = 1};
    struct td_http *h;
    cr_assert_eq(td_http_new(&loop, &o, &h), 0);
    cr_assert_eq(td_http_listen(h), 0, "port still taken after a failed start");
    td_http_close(h, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(&loop), 0);
    free(out);
}

Test(svc, role_start_failure_names_the_role)
{
    start_rc = -ENOSPC;
    char err[256] = "", *out = NULL;
    int rc = run_svc(&fake_plan, NULL, err, sizeof err, &out);
    cr_assert_eq(rc, -ENOSPC);
    cr_assert_not_null(strstr(err, "fake"), "%s", err);
    cr_assert_not_null(strstr(err, strerror(ENOSPC)), "%s", err);
    /* init succeeded, so fini undoes it (the fake role's timer handle must be closed, or
     * the loop cannot close) */
    cr_assert_str_eq(marks, "init,start,fini,", "hooks: %s", marks);
    cr_assert_str_eq(out, "");
    free(out);
}

static const struct td_role db_role = {.name = "needsdb", .needs = TD_NEED_DB};
static const struct td_role *const db_roles[] = {&db_role};

Test(svc, database_role_without_url_is_refused)
{
    struct td_svc_plan plan = {.name = "dbtest", .roles = db_roles, .nroles = 1, .embedded_db = 0};
    char err[256] = "", *out = NULL;
    int rc = run_svc(&plan, NULL, err, sizeof err, &out);
    cr_assert_eq(rc, -EINVAL);
    cr_assert_not_null(strstr(err, "--database-url"), "%s", err);
    cr_assert_not_null(strstr(err, "dbtest"), "%s", err);
    free(out);
}

Test(svc, busy_port_names_listen)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)cfg.listen_port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(fd, 1), 0);
    char err[256] = "", *out = NULL;
    int rc = run_svc(&fake_plan, NULL, err, sizeof err, &out);
    close(fd);
    cr_assert_lt(rc, 0);
    cr_assert_not_null(strstr(err, "--listen"), "%s", err);
    cr_assert_str_eq(marks, "", "roles are not started without HTTP");
    free(out);
}

Test(svc, routes_dump_reads_the_tables_alone)
{
    struct td_buf out = {0};
    cr_assert_eq(td_svc_routes_dump(fake_roles, 1, &out), 0);
    cr_assert_str_eq(out.data, "GET /health\nGET /ready\nGET /metrics\nGET /fake\n");
    td_buf_free(&out);
    cr_assert_str_eq(marks, "", "no hook ran to list the routes");
}


