/* Helpers for the api role's integration tests (see api_harness.h). */
#define _GNU_SOURCE   /* vasprintf */
#include "tests/support/api_harness.h"

#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/http.h"
#include "tests/support/proc_harness.h"

const char *td_test_jwt_aud;
const char *td_test_jwt_iss;

/* ---------- JWTs ---------- */

static void b64url(const unsigned char *in, size_t n, char *out)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[o++] = a[v >> 18];
        out[o++] = a[(v >> 12) & 63];
        if (i + 1 < n)
            out[o++] = a[(v >> 6) & 63];
        if (i + 2 < n)
            out[o++] = a[v & 63];
    }
    out[o] = '\0';
}

static char *b64url_str(const char *s)
{
    size_t n = strlen(s);
    char *out = malloc(n * 4 / 3 + 8);
    b64url((const unsigned char *)s, n, out);
    return out;
}

char *td_test_jwt_raw(const char *header_json, const char *payload_json, const char *secret,
                      int force_hs256)
{
    if (!secret)
        secret = TD_TEST_JWT_SECRET;
    char *h = b64url_str(header_json), *p = b64url_str(payload_json);
    char *signing = td_test_fmt("%s.%s", h, p);
    free(h);
    free(p);
    const EVP_MD *md = NULL;
    json_t *hj = json_loads(header_json, 0, NULL);
    const char *alg = json_string_value(json_object_get(hj, "alg"));
    if (force_hs256 || (alg && strcmp(alg, "HS256") == 0))
        md = EVP_sha256();
    else if (alg && strcmp(alg, "HS384") == 0)
        md = EVP_sha384();
    else if (alg && strcmp(alg, "HS512") == 0)
        md = EVP_sha512();
    json_decref(hj);
    char sig[128] = "";
    if (md) {
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned int maclen = 0;
        cr_assert(HMAC(md, secret, (int)strlen(secret), (const unsigned char *)signing,
                       strlen(signing), mac, &maclen) != NULL);
        b64url(mac, maclen, sig);
    }
    char *token = td_test_fmt("%s.%s", signing, sig);
    free(signing);
    return token;
}

char *td_test_jwt_claims(const struct td_test_claims *c)
{
    long long now = (long long)time(NULL);
    json_t *p = json_object();
    if (c->sub)
        json_object_set_new(p, "sub", json_string(c->sub));
    if (c->has_iat)
        json_object_set_new(p, "iat", json_integer(now + c->iat));
    if (c->has_nbf)
        json_object_set_new(p, "nbf", json_integer(now + c->nbf));
    if (c->has_exp)
        json_object_set_new(p, "exp", json_integer(now + c->exp));
    if (c->aud)
        json_object_set_new(p, "aud", json_string(c->aud));
    if (c->iss)
        json_object_set_new(p, "iss", json_string(c->iss));
    json_t *h = json_pack("{s:s, s:s}", "alg", c->alg ? c->alg : "HS256", "typ", "JWT");
    char *hs = json_dumps(h, JSON_COMPACT), *ps = json_dumps(p, JSON_COMPACT);
    char *token = td_test_jwt_raw(hs, ps, c->secret, c->force_hs256);
    free(hs);
    free(ps);
    json_decref(h);
    json_decref(p);
    return token;
}

char *td_test_jwt(const char *sub)
{
    struct td_test_claims c = {.sub = sub, .has_exp = 1, .exp = 3600, .has_iat = 1, .iat = 0,
                               .aud = td_test_jwt_aud, .iss = td_test_jwt_iss};
    return td_test_jwt_claims(&c);
}

/* ---------- users ---------- */

void td_test_uuid(char out[37])
{
    unsigned char r[16];
    cr_assert(RAND_bytes(r, sizeof r) == 1);
    r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
    r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12],
             r[13], r[14], r[15]);
}

void td_test_user_fake(struct td_test_user *u)
{
    memset(u, 0, sizeof *u);
    td_test_uuid(u->id);
    char *t = td_test_jwt(u->id);
    snprintf(u->token, sizeof u->token, "%s", t);
    free(t);
}

void td_test_signup(int port, const char *email, const char *password, const char *name,
                    struct td_test_user *u)
{
    memset(u, 0, sizeof *u);
    json_t *req = json_pack("{s:s, s:s, s:s}", "email", email, "password", password, "name", name);
    char *body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    json_t *j = NULL;
    int status = td_test_api_json(port, NULL, "POST", "/api/auth/signup", body, NULL, &j);
    free(body);
    cr_assert_eq(status, 201, "signup %s: %d", email, status);
    const char *id = td_test_jstr(j, "user.id"), *token = td_test_jstr(j, "token");
    cr_assert(id && token, "signup answer lacks user.id or token");
    snprintf(u->id, sizeof u->id, "%s", id);
    snprintf(u->email, sizeof u->email, "%s", email);
    snprintf(u->token, sizeof u->token, "%s", token);
    json_decref(j);
}

/* ---------- requests ---------- */

int td_test_api(int port, const char *token, const char *method, const char *path,
                const char *body, const char *const *headers, struct td_test_http *out)
{
    const char *all[32];
    int n = 0;
    char *authz = token ? td_test_fmt("Authorization: Bearer %s", token) : NULL;
    if (authz)
        all[n++] = authz;
    for (int i = 0; headers && headers[i] && n < 31; i++)
        all[n++] = headers[i];
    all[n] = NULL;
    int rc = td_test_http(port, method, path, body, all, out);
    free(authz);
    cr_assert_eq(rc, 0, "%s %s: no answer", method, path);
    return out->status;
}

int td_test_api_json(int port, const char *token, const char *method, const char *path,
                     const char *body, const char *const *headers, json_t **json)
{
    struct td_test_http r;
    int status = td_test_api(port, token, method, path, body, headers, &r);
    if (json)
        *json = json_loads(r.body, 0, NULL);
    td_test_http_free(&r);
    return status;
}

json_t *td_test_create_task(int port, const char *token, const char *body)
{
    struct td_test_http r;
    int status = td_test_api(port, token, "POST", "/api/tasks", body, NULL, &r);
    cr_assert_eq(status, 201, "create %s: %d %s", body, status, r.body);
    json_t *j = td_test_body_json(&r);
    td_test_http_free(&r);
    return j;
}

char *td_test_fmt(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    cr_assert(n >= 0);
    return s;
}

json_t *td_test_body_json(const struct td_test_http *r)
{
    json_error_t err;
    json_t *j = json_loads(r->body, 0, &err);
    cr_assert(j, "not JSON (%s): %.300s", err.text, r->body);
    return j;
}

json_t *td_test_jget(json_t *j, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    char *save = NULL;
    for (char *k = strtok_r(buf, ".", &save); k && j; k = strtok_r(NULL, ".", &save))
        j = json_object_get(j, k);
    return j;
}

const char *td_test_jstr(json_t *j, const char *path)
{
    return json_string_value(td_test_jget(j, path));
}

void td_test_expect_problem(const struct td_test_http *r, int status, const char *slug,
                            const char *what)
{
    cr_expect_eq(r->status, status, "%s: %d %s", what, r->status, r->body);
    char *type = td_test_header(r->headers, "Content-Type");
    cr_expect(type && strcmp(type, "application/problem+json") == 0, "%s: Content-Type %s", what,
              type);
    free(type);
    json_t *j = json_loads(r->body, 0, NULL);
    const char *t = json_string_value(json_object_get(j, "type"));
    cr_expect(t && strncmp(t, TD_PROBLEM_BASE, strlen(TD_PROBLEM_BASE)) == 0 &&
              strcmp(t + strlen(TD_PROBLEM_BASE), slug) == 0,
              "%s: type %s, expected %s%s", what, t, TD_PROBLEM_BASE, slug);
    cr_expect_eq(json_integer_value(json_object_get(j, "status")), status, "%s: %s", what, r->body);
    json_decref(j);
}

int td_test_problem_names(json_t *problem, const char *field)
{
    json_t *errors = json_object_get(problem, "errors"), *e;
    size_t i, n = strlen(field);
    json_array_foreach(errors, i, e) {
        const char *f = json_string_value(json_object_get(e, "field"));
        if (f && strncmp(f, field, n) == 0 && (f[n] == '\0' || f[n] == '[' || f[n] == '.'))
            return 1;
    }
    return 0;
}

/* ---------- PostgreSQL ---------- */

char *td_test_pg_queryf(struct td_test_pg *pg, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *sql = NULL;
    int n = vasprintf(&sql, fmt, ap);
    va_end(ap);
    cr_assert(n >= 0);
    char *v = td_test_pg_query(pg, sql);
    free(sql);
    return v;
}

long td_test_pg_long(struct td_test_pg *pg, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *sql = NULL;
    int n = vasprintf(&sql, fmt, ap);
    va_end(ap);
    cr_assert(n >= 0);
    char *v = td_test_pg_query(pg, sql);
    free(sql);
    long out = v ? strtol(v, NULL, 10) : -1;
    free(v);
    return out;
}

char *td_test_outbox_types(struct td_test_pg *pg, const char *task_id)
{
    char *v = td_test_pg_queryf(pg,
        "SELECT coalesce(string_agg(event->>'type', ',' ORDER BY seq), '') FROM outbox "
        "WHERE event->>'subject' = '%s' AND topic = 'task-events'", task_id);
    return v ? v : strdup("");
}

long td_test_outbox_count(struct td_test_pg *pg)
{
    return td_test_pg_long(pg, "SELECT count(*) FROM outbox WHERE topic = 'task-events'");
}

json_t *td_test_outbox_last(struct td_test_pg *pg, const char *task_id)
{
    char *v = td_test_pg_queryf(pg,
        "SELECT json_build_object('topic', o.topic, 'key', o.key, 'event', o.event, "
        "  'headers', o.headers, 'event_id', o.event_id, "
        "  'same_tx', (SELECT o.created_at = t.updated_at FROM tasks t "
        "              WHERE t.id::text = o.event->>'subject'))::text "
        "FROM outbox o WHERE o.event->>'subject' = '%s' AND o.topic = 'task-events' "
        "ORDER BY o.seq DESC LIMIT 1", task_id);
    if (!v)
        return NULL;
    json_t *j = json_loads(v, 0, NULL);
    free(v);
    cr_assert(j);
    return j;
}
