/* POST /api/me/webhook-secret: creates or replaces the caller's webhook signing secret and
 * answers it this once (it is stored for signing, never shown again; GET /api/me says only
 * webhook_secret_set). The notify role signs each webhook with it (README, "Webhook
 * signatures"). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "roles/api/api.h"

#define WEBHOOK_SECRET_BYTES 32

/* "whsec_" and 64 hex digits from the kernel's random source. 0 or -EIO. */
static int new_secret(char *out, size_t outlen)
{
    unsigned char raw[WEBHOOK_SECRET_BYTES];
    if (outlen < 7 + 2 * sizeof raw || getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
        return -EIO;
    int n = snprintf(out, outlen, "whsec_");
    for (size_t i = 0; i < sizeof raw; i++)
        n += snprintf(out + n, outlen - (size_t)n, "%02x", raw[i]);
    memset(raw, 0, sizeof raw);
    return 0;
}

static void on_secret_stored(int status, struct td_db_res *res, void *arg)
{
    struct api_call *call = arg;
    const char *secret = call->extra;
    if (status) {
        api_db_error(call, status, res);
    } else if (!res || td_db_res_rows(res) == 0) {
        td_http_problem(call->req, 404, "user-not-found", "Not Found",
                        "no account of this service has the token's subject; webhooks exist "
                        "only for accounts that signed up here", NULL);
    } else {
        json_t *j = json_pack("{s:s, s:s, s:s}", "webhook_secret", secret,
                              "signature_header", "X-Todod-Signature",
                              "scheme", "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, \"<t>.\" + body)>");
        char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
        if (text)
            api_send_json(call, 201, text, 0);
        else
            td_http_problem(call->req, 503, "overloaded", "Service Unavailable", "out of memory", NULL);
        free(text);
        json_decref(j);
    }
    api_end(call);
}

static void free_secret(void *p)
{
    if (p)
        memset(p, 0, strlen(p));
    free(p);
}

static void handle_webhook_secret(struct td_http_req *req, void *arg)
{
    struct api_call *call = api_begin(arg, req);
    if (!call)
        return;
    if (!td_task_is_uuid(call->user_id)) {
        on_secret_stored(0, NULL, call);
        return;
    }
    char *secret = malloc(7 + 2 * WEBHOOK_SECRET_BYTES + 1);
    call->extra = secret;
    call->free_extra = free_secret;
    if (!secret || new_secret(secret, 7 + 2 * WEBHOOK_SECRET_BYTES + 1)) {
        td_http_problem(req, 503, "overloaded", "Service Unavailable", "no secret could be made", NULL);
        api_end(call);
        return;
    }
    const char *params[] = {call->user_id, secret};
    api_exec(call, "user_webhook_secret", 2, params, on_secret_stored);
}

const struct td_stmt_def api_webhook_stmts[] = {
    {"user_webhook_secret",
     "UPDATE users SET webhook_secret = $2 WHERE id = $1::uuid RETURNING id", 2},
    {0},
};

const struct td_route_def api_webhook_routes[] = {
    {"POST", "/api/me/webhook-secret", handle_webhook_secret, TD_DOOR_BEARER},
    {0},
};
