#define _GNU_SOURCE   /* vasprintf */
/* See chat_harness.h. */
#include "tests/support/chat_harness.h"

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void td_test_chat_start(struct td_test_chat *c, const struct td_role *const *roles, size_t n)
{
    c->pg = td_test_roles_pg();
    td_test_roles_start(&c->roles, roles, n, 0);
    td_test_user_fake(&c->user);
    c->conv[0] = '\0';
}

void td_test_chat_stop(struct td_test_chat *c)
{
    td_test_roles_stop(&c->roles);
}

json_t *td_test_chat_say(struct td_test_chat *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = NULL;
    cr_assert(vasprintf(&msg, fmt, ap) >= 0);
    va_end(ap);
    json_t *m = json_pack("{s:s}", "message", msg);
    if (c->conv[0])
        json_object_set_new(m, "conversation_id", json_string(c->conv));
    char *body = json_dumps(m, JSON_COMPACT);
    json_t *j = NULL;
    int st = td_test_api_json(c->roles.port, c->user.token, "POST", "/api/chat", body, NULL, &j);
    cr_assert_eq(st, 200, "chat %s: %d", msg, st);
    const char *id = td_test_jstr(j, "conversation_id");
    cr_assert(id);
    snprintf(c->conv, sizeof c->conv, "%s", id);
    free(body);
    json_decref(m);
    free(msg);
    return j;
}

const char *td_test_chat_resp(json_t *j)
{
    const char *r = td_test_jstr(j, "response");
    return r ? r : "(none)";
}

json_t *td_test_chat_task(struct td_test_chat *c, const char *id)
{
    char *path = td_test_fmt("/api/tasks/%s", id);
    json_t *j = NULL;
    int st = td_test_api_json(c->roles.port, c->user.token, "GET", path, NULL, NULL, &j);
    free(path);
    if (st != 200) {
        json_decref(j);
        return NULL;
    }
    return j;
}

const char *td_test_chat_first_task_id(json_t *j, char out[37])
{
    const char *id = td_test_jstr(json_array_get(json_object_get(j, "tasks"), 0), "id");
    snprintf(out, 37, "%s", id ? id : "");
    return out;
}

void td_test_chat_add_rest(struct td_test_chat *c, const char *title, char id[37])
{
    char *body = td_test_fmt("{\"title\":\"%s\"}", title);
    json_t *t = td_test_create_task(c->roles.port, c->user.token, body);
    snprintf(id, 37, "%s", td_test_jstr(t, "id"));
    json_decref(t);
    free(body);
}
