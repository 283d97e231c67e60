/* Accounts: signup, login, me (read, and PATCH its name, zone and webhook URL). Passwords
 * are argon2id hashes computed off the loop. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/curl.h"
#include "core/task.h"
#include "core/door.h"
#include "core/tz.h"
#include "core/utf8.h"
#include "roles/api/api.h"

struct account {
    char *email;
    char *name;
    char *password;
    char  time_zone[64];
    char  user_id[40];
    char *user_json;
};

static void free_account(void *p)
{
    struct account *a = p;
    if (!a)
        return;
    free(a->email);
    free(a->name);
    if (a->password) {
        memset(a->password, 0, strlen(a->password));
        free(a->password);
    }
    free(a->user_json);
    free(a);
}

static int valid_email(const char *s)
{
    size_t n = strlen(s);
    const char *at = strchr(s, '@');
    if (n < 3 || n > 254 || !at || at == s || strchr(at + 1, '@') || !strchr(at + 1, '.'))
        return 0;
    for (const char *p = s; *p; p++)
        if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p))
            return 0;
    return at[1] != '.' && s[n - 1] != '.';
}

/* Collects field errors for the account bodies into a 422. */
static int check_fields(struct api_call *call, json_t *body, struct account *a, int signup)
{
    struct td_task_errors errs = {0};
    const char *email = json_string_value(json_object_get(body, "email"));
    const char *password = json_string_value(json_object_get(body, "password"));
    const char *name = json_string_value(json_object_get(body, "name"));
    const char *tz = json_string_value(json_object_get(body, "time_zone"));
#define FIELD_ERROR(f, m) do { if (errs.count < 32) { \
        snprintf(errs.items[errs.count].field, 64, "%s", f); \
        snprintf(errs.items[errs.count++].message, 160, "%s", m); } } while (0)
    if (!email || !valid_email(email))
        FIELD_ERROR("email", "must be an email address");
    if (!password || strlen(password) < (signup ? 8 : 1) || strlen(password) > 1024)
        FIELD_ERROR("password", signup ? "must be 8 to 1024 bytes" : "is required");
    json_t *name_value = json_object_get(body, "name");
    if (signup && name_value && !json_is_null(name_value) && (!name || strlen(name) > 200))
        FIELD_ERROR("name", "must be a string of at most 200 bytes");
    if (signup && json_object_get(body, "time_zone") && (!tz || !td_tz_valid(tz)))
        FIELD_ERROR("time_zone", "must be an IANA time zone such as Europe/Paris");
#undef FIELD_ERROR
    if (errs.count) {
        char *extra = NULL;
        td_task_errors_json(&errs, &extra);
        td_http_problem(call->req, 422, "validation-failed", "Unprocessable Content",
                        "some fields are invalid", extra);
        free(extra);
        return -EINVAL;
    }
    a->email = strdup(email);
    a->password = strdup(password);
    if (signup && (!name || !*name)) {
        /* No name (absent, null or empty, as sign-up forms without a name field send):
         * the email's local part, "ann.lee@example.com" -> "ann.lee", whole characters
         * within the 200 bytes a name may have. */
        char local[201];
        char *part = strndup(email, (size_t)(strchr(email, '@') - email));
        a->name = part && td_utf8_copy(local, sizeof local, part) != -EINVAL ? strdup(local) : NULL;
        free(part);
    } else {
        a->name = strdup(name ? name : "");
    }
    snprintf(a->time_zone, sizeof a->time_zone, "%s", tz ? tz : "UTC");
    return a->email && a->password && a->name ? 0 : -ENOMEM;
}

static void send_session(struct api_call *call, int status, const char *user_id,
                         const char *user_json)
{
    struct td_auth *auth = td_door_auth(call->api->svc->door);
    char *token = td_auth_issue(auth, user_id, time(NULL));
    if (!token) {
        td_http_problem(call->req, 500, "internal", "Internal Server Error", "cannot issue a token", NULL);
        return;
    }
    /* token and user are todod's own; access_token, token_type and expires_in are the
     * OAuth 2.0 token response's names (RFC 6749 5.1) for clients that expect those.
     * expires_in is the issuer's ttl: the token was issued just now. */
    struct td_buf b = {0};
    td_buf_printf(&b, "{\"token\":\"%s\",\"access_token\":\"%s\",\"token_type\":\"Bearer\","
                  "\"expires_in\":%d,\"user\":%s}", token, token,
                  td_auth_token_ttl(auth), user_json);
    free(token);
    td_http_add_header(call->req, "Cache-Control", "no-store");
    td_http_respond_buf(call->req, status, "application/json", &b);
}

/* Signup and login start alike: the per-address limit, then a checked account body in
 * call->extra. Answers and returns NULL on failure. */
static struct api_call *begin_account(struct api *api, struct td_http_req *req, int signup)
{
    struct api_call *call = api_begin_anonymous(api, req, api->login_per_addr);
    if (!call)
        return NULL;
    struct account *a = calloc(1, sizeof *a);
    call->extra = a;
    call->free_extra = free_account;
    if (!a)
        td_http_problem(req, 503, "overloaded", "Service Unavailable", "out of memory", NULL);
    json_t *body = a ? api_json_body(call) : NULL;
    int rc = body ? check_fields(call, body, a, signup) : -EINVAL;
    json_decref(body);
    if (rc == -ENOMEM)
        td_http_problem(req, 503, "overloaded", "Service Unavailable", "out of memory", NULL);
    if (rc) {
        api_end(call);
        return NULL;
    }
    return call;
}

/* ---------- signup ---------- */

static void on_user_inserted(int status, struct td_db_res *res, void *arg)
{
    struct api_call *call = arg;
    if (status)
        api_db_error(call, status, res);
    else if (td_db_res_rows(res) == 0)
        td_http_problem(call->req, 409, "email-taken", "Conflict",
                        "an account with this email exists", NULL);
    else
        send_session(call, 201, td_db_res_value(res, 0, 0), td_db_res_value(res, 0, 1));
    api_end(call);
}

static void on_password_hashed(int status, const char *encoded, void *arg)
{
    struct api_call *call = arg;
    struct account *a = call->extra;
    if (status) {
        td_http_problem(call->req, 500, "internal", "Internal Server Error", "cannot hash the password", NULL);
        api_end(call);
        return;
    }
    const char *params[] = {a->email, a->name, encoded, a->time_zone};
    api_exec(call, "user_insert", 4, params, on_user_inserted);
}

static void handle_signup(struct td_http_req *req, void *arg)
{
    struct api *api = arg;
    struct api_call *call = begin_account(api, req, 1);
    if (!call)
        return;
    struct account *a = call->extra;
    if (td_auth_hash_password(api->svc->loop, a->password, on_password_hashed, call) != 0) {
        td_http_problem(req, 500, "internal", "Internal Server Error", "cannot hash the password", NULL);
        api_end(call);
    }
}

/* ---------- login ---------- */

static void on_password_checked(int status, int match, void *arg)
{
    struct api_call *call = arg;
    struct account *a = call->extra;
    if (status == 0 && match && a->user_json) {
        td_ratelimit_reset(call->api->login_per_account, a->email);
        send_session(call, 200, a->user_id, a->user_json);
    } else {
        td_http_add_header(call->req, "WWW-Authenticate", "Bearer realm=\"todod\"");
        td_http_problem(call->req, 401, "invalid-credentials", "Unauthorized",
                        "the email or the password is wrong", NULL);
    }
    api_end(call);
}

static void on_user_found(int status, struct td_db_res *res, void *arg)
{
    struct api_call *call = arg;
    struct account *a = call->extra;
    if (status) {
        api_db_error(call, status, res);
        api_end(call);
        return;
    }
    const char *hash = NULL;
    if (td_db_res_rows(res) > 0) {
        snprintf(a->user_id, sizeof a->user_id, "%s", td_db_res_value(res, 0, 0));
        hash = td_db_res_value(res, 0, 1);
        a->user_json = strdup(td_db_res_value(res, 0, 2));
    }
    /* Unknown accounts still pay for a verification: timing does not tell who exists. */
    if (td_auth_verify_password(call->api->svc->loop, hash, a->password, on_password_checked,
                                call) != 0) {
        td_http_problem(call->req, 500, "internal", "Internal Server Error", "cannot verify", NULL);
        api_end(call);
    }
}

static void handle_login(struct td_http_req *req, void *arg)
{
    struct api *api = arg;
    struct api_call *call = begin_account(api, req, 0);
    if (!call)
        return;
    struct account *a = call->extra;
    for (char *p = a->email; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    int retry;
    if (!td_ratelimit_take(api->login_per_account, a->email, uv_now(api->svc->loop), &retry)) {
        char v[16];
        snprintf(v, sizeof v, "%d", retry);
        td_http_add_header(req, "Retry-After", v);
        td_http_problem(req, 429, "too-many-login-attempts", "Too Many Requests",
                        "too many login attempts for this account; wait and retry", NULL);
        api_end(call);
        return;
    }
    const char *params[] = {a->email};
    api_exec(call, "user_by_email", 1, params, on_user_found);
}

/* ---------- me ---------- */

static void on_me(int status, struct td_db_res *res, void *arg)
{
    struct api_call *call = arg;
    if (status) {
        api_db_error(call, status, res);
    } else if (res && td_db_res_rows(res) > 0) {
        api_send_json(call, 200, td_db_res_value(res, 0, 0), 0);
    } else {
        /* A subject signed by an external IdP: we know only its id. */
        json_t *j = json_pack("{s:s}", "id", call->user_id);
        char *s = json_dumps(j, JSON_COMPACT);
        api_send_json(call, 200, s, 0);
        free(s);
        json_decref(j);
    }
    api_end(call);
}

static void handle_me(struct td_http_req *req, void *arg)
{
    struct api *api = arg;
    struct api_call *call = api_begin(api, req);
    if (!call)
        return;
    if (!td_task_is_uuid(call->user_id)) {
        on_me(0, NULL, call);
        return;
    }
    const char *params[] = {call->user_id};
    api_exec(call, "user_by_id", 1, params, on_me);
}

/* ---------- PATCH /api/me: the account's settings ---------- */

/* The settings a PATCH changes: NULL leaves the stored value. */
struct settings {
    char *name;        /* trimmed */
    char  time_zone[TD_TZ_NAME_MAX + 1];
    int   has_zone;
    char *webhook_url;   /* with has_webhook: the new URL, NULL to remove it */
    int   has_webhook;
};

static void free_settings(void *p)
{
    struct settings *s = p;
    if (s) {
        free(s->name);
        free(s->webhook_url);
    }
    free(s);
}

/* Checks {name?, time_zone?, webhook_url?} into s; collects every bad member in errs.
 * Absent and null members leave the stored value, except webhook_url: null removes it.
 * Any other member is unknown. Returns 0, -EINVAL (errs filled) or -ENOMEM. */
static int check_settings(json_t *body, struct settings *s, struct td_task_errors *errs)
{
#define FIELD_ERROR(f, m) do { if (errs->count < 32) { \
        snprintf(errs->items[errs->count].field, 64, "%s", f); \
        snprintf(errs->items[errs->count++].message, 160, "%s", m); } } while (0)
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v) {
        if (strcmp(key, "name") == 0) {
            struct td_utf8_span t;
            if (json_is_null(v))
                continue;
            if (!json_is_string(v) ||
                td_utf8_scan(json_string_value(v), json_string_length(v), 1, &t) ||
                t.chars < 1 || t.chars > 200 || t.has_control) {
                FIELD_ERROR("name", "must be a string of 1 to 200 characters (after trimming "
                            "white space) without control characters");
                continue;
            }
            free(s->name);
            s->name = strndup(json_string_value(v) + t.start, t.end - t.start);
            if (!s->name)
                return -ENOMEM;
        } else if (strcmp(key, "time_zone") == 0) {
            const char *tz = json_string_value(v);
            if (json_is_null(v))
                continue;
            if (!tz || strlen(tz) > TD_TZ_NAME_MAX || !td_tz_valid(tz)) {
                FIELD_ERROR("time_zone", "must be an IANA time zone such as Europe/Paris");
                continue;
            }
            snprintf(s->time_zone, sizeof s->time_zone, "%s", tz);
            s->has_zone = 1;
        } else if (strcmp(key, "webhook_url") == 0) {
            /* Syntax only: the address it reaches is checked by notify when it connects. */
            char why[120], msg[160];
            s->has_webhook = 1;
            if (json_is_null(v))
                continue;
            if (!json_is_string(v) ||
                td_curl_url_check(json_string_value(v), "http,https", why, sizeof why)) {
                snprintf(msg, sizeof msg, "must be an http or https URL (%s)",
                         json_is_string(v) ? why : "a string");
                FIELD_ERROR("webhook_url", msg);
                continue;
            }
            s->webhook_url = strdup(json_string_value(v));
            if (!s->webhook_url)
                return -ENOMEM;
        } else {
            char f[64];
            snprintf(f, sizeof f, "%s", key);
            FIELD_ERROR(f, "is not a member of the account settings (name, time_zone, "
                        "webhook_url)");
        }
    }
#undef FIELD_ERROR
    return errs->count ? -EINVAL : 0;
}

static void on_me_patched(int status, struct td_db_res *res, void *arg)
{
    struct api_call *call = arg;
    if (status)
        api_db_error(call, status, res);
    else if (res && td_db_res_rows(res) > 0)
        api_send_json(call, 200, td_db_res_value(res, 0, 0), 0);
    else
        td_http_problem(call->req, 404, "user-not-found", "Not Found",
                        "no account of this service has the token's subject; settings "
                        "exist only for accounts that signed up here", NULL);
    api_end(call);
}

static void handle_me_patch(struct td_http_req *req, void *arg)
{
    struct api *api = arg;
    struct api_call *call = api_begin(api, req);
    if (!call)
        return;
    struct settings *s = calloc(1, sizeof *s);
    call->extra = s;
    call->free_extra = free_settings;
    if (!s) {
        td_http_problem(req, 503, "overloaded", "Service Unavailable", "out of memory", NULL);
        api_end(call);
        return;
    }
    json_t *body = api_json_body(call);
    if (!body) {
        api_end(call);
        return;
    }
    struct td_task_errors errs = {0};
    int rc = check_settings(body, s, &errs);
    json_decref(body);
    if (rc == -EINVAL) {
        char *extra = NULL;
        td_task_errors_json(&errs, &extra);
        td_http_problem(req, 422, "validation-failed", "Unprocessable Content",
                        "some fields are invalid", extra);
        free(extra);
    } else if (rc) {
        td_http_problem(req, 503, "overloaded", "Service Unavailable", "out of memory", NULL);
    }
    if (rc) {
        api_end(call);
        return;
    }
    if (!td_task_is_uuid(call->user_id)) {
        on_me_patched(0, NULL, call);   /* an external IdP's subject: no row to change */
        return;
    }
    if (!s->name && !s->has_zone && !s->has_webhook) {
        const char *params[] = {call->user_id};
        api_exec(call, "user_by_id", 1, params, on_me_patched);   /* {}: unchanged */
        return;
    }
    const char *params[] = {call->user_id, s->name, s->has_zone ? s->time_zone : NULL,
                            s->has_webhook ? "true" : "false", s->webhook_url};
    api_exec(call, "user_update", 5, params, on_me_patched);
}

const struct td_stmt_def api_auth_stmts[] = {
    {"user_insert", "INSERT INTO users (email, name, password_hash, time_zone) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT DO NOTHING RETURNING id::text, todod_user_json(users)::text", 4},
    {"user_by_email",
     "SELECT id::text, password_hash, todod_user_json(users)::text FROM users "
     "WHERE lower(email) = $1 AND password_hash IS NOT NULL", 1},
    {"user_by_id", "SELECT todod_user_json(users)::text FROM users WHERE id = $1::uuid", 1},
    {"user_update", "UPDATE users SET name = coalesce($2, name), time_zone = coalesce($3, time_zone), "
        "webhook_url = CASE WHEN $4::boolean THEN $5 ELSE webhook_url END "
        "WHERE id = $1::uuid RETURNING todod_user_json(users)::text", 5},
    {0},
};

const struct td_route_def api_auth_routes[] = {
    {"POST", "/api/auth/signup", handle_signup, TD_DOOR_PUBLIC},
    /* The name front-ends written for the hackathon brief call signup by. */
    {"POST", "/api/auth/register", handle_signup, TD_DOOR_PUBLIC},
    {"POST", "/api/auth/login", handle_login, TD_DOOR_PUBLIC},
    {"GET", "/api/me", handle_me, TD_DOOR_BEARER},
    {"PATCH", "/api/me", handle_me_patch, TD_DOOR_BEARER},
    {0},
};
