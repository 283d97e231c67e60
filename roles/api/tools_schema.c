/* The JSON Schema subset the tool inputs use, checked before a tool runs so that a
 * model's or a client's wrong arguments get one clear line instead of a guess. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/task.h"
#include "roles/api/tools.h"

static int fail(char *err, size_t errlen, const char *path, const char *msg)
{
    snprintf(err, errlen, "%s: %s", *path ? path : "arguments", msg);
    return -EINVAL;
}

static int type_is(const char *type, const json_t *v)
{
    if (!strcmp(type, "object"))
        return json_is_object(v);
    if (!strcmp(type, "array"))
        return json_is_array(v);
    if (!strcmp(type, "string"))
        return json_is_string(v);
    if (!strcmp(type, "integer"))
        return json_is_integer(v);
    if (!strcmp(type, "number"))
        return json_is_number(v);
    if (!strcmp(type, "boolean"))
        return json_is_boolean(v);
    if (!strcmp(type, "null"))
        return json_is_null(v);
    return 0;
}

static int type_ok(const json_t *type, const json_t *v, char *names, size_t len)
{
    if (json_is_string(type)) {
        snprintf(names, len, "%s", json_string_value(type));
        return type_is(json_string_value(type), v);
    }
    size_t i;
    json_t *t;
    int ok = 0;
    names[0] = '\0';
    json_array_foreach(type, i, t) {
        size_t used = strlen(names);
        snprintf(names + used, len - used, "%s%s", i ? " or " : "", json_string_value(t));
        ok |= json_is_string(t) && type_is(json_string_value(t), v);
    }
    return ok;
}

static size_t code_points(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static long long num_of(const json_t *schema, const char *key, long long dflt)
{
    json_t *v = json_object_get(schema, key);
    return json_is_integer(v) ? json_integer_value(v) : dflt;
}

static int check(const json_t *s, const json_t *v, const char *path, char *err, size_t errlen)
{
    char msg[160], names[64];
    json_t *type = json_object_get(s, "type");
    if (type && !type_ok(type, v, names, sizeof names)) {
        snprintf(msg, sizeof msg, "must be %s %s", strchr("aeiou", names[0]) ? "an" : "a",
                 names);
        return fail(err, errlen, path, msg);
    }
    json_t *en = json_object_get(s, "enum");
    if (en) {
        size_t i;
        json_t *e;
        int found = 0;
        struct td_buf list = {0};
        json_array_foreach(en, i, e) {
            found |= json_equal(e, (json_t *)v);
            char *d = json_dumps(e, JSON_ENCODE_ANY);
            td_buf_puts(&list, i ? ", " : "");
            td_buf_puts(&list, d ? d : "");
            free(d);
        }
        if (!found) {
            snprintf(msg, sizeof msg, "must be one of %s", list.data ? list.data : "");
            td_buf_free(&list);
            return fail(err, errlen, path, msg);
        }
        td_buf_free(&list);
    }
    if (json_is_string(v)) {
        size_t n = code_points(json_string_value(v));
        long long min = num_of(s, "minLength", 0), max = num_of(s, "maxLength", -1);
        if ((long long)n < min || (max >= 0 && (long long)n > max)) {
            if (max >= 0)
                snprintf(msg, sizeof msg, "must be %lld to %lld characters", min, max);
            else
                snprintf(msg, sizeof msg, "must be at least %lld characters", min);
            return fail(err, errlen, path, msg);
        }
        const char *format = json_string_value(json_object_get(s, "format"));
        if (format && !strcmp(format, "uuid") && !td_task_is_uuid(json_string_value(v)))
            return fail(err, errlen, path, "must be a task id (a UUID)");
    }
    if (json_is_integer(v)) {
        json_t *mn = json_object_get(s, "minimum"), *mx = json_object_get(s, "maximum");
        json_int_t x = json_integer_value(v);
        if ((mn && x < json_integer_value(mn)) || (mx && x > json_integer_value(mx))) {
            snprintf(msg, sizeof msg, "must be from %lld to %lld",
                     (long long)json_integer_value(mn), (long long)json_integer_value(mx));
            return fail(err, errlen, path, msg);
        }
    }
    if (json_is_array(v)) {
        long long n = (long long)json_array_size(v);
        long long min = num_of(s, "minItems", 0), max = num_of(s, "maxItems", -1);
        if (n < min || (max >= 0 && n > max)) {
            snprintf(msg, sizeof msg, "must have %lld to %lld items", min, max);
            return fail(err, errlen, path, msg);
        }
        json_t *items = json_object_get(s, "items");
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) {
            char sub[128];
            snprintf(sub, sizeof sub, "%s[%zu]", path, i);
            if (items && check(items, e, sub, err, errlen))
                return -EINVAL;
        }
    }
    if (json_is_object(v)) {
        json_t *props = json_object_get(s, "properties"), *req = json_object_get(s, "required");
        size_t i;
        json_t *r;
        json_array_foreach(req, i, r) {
            const char *name = json_string_value(r);
            if (name && !json_object_get(v, name)) {
                char sub[128];
                snprintf(sub, sizeof sub, "%s%s%s", path, *path ? "." : "", name);
                return fail(err, errlen, sub, "is required");
            }
        }
        const char *key;
        json_t *m;
        int closed = json_is_false(json_object_get(s, "additionalProperties"));
        json_object_foreach((json_t *)v, key, m) {
            char sub[128];
            snprintf(sub, sizeof sub, "%s%s%.64s", path, *path ? "." : "", key);
            json_t *ps = json_object_get(props, key);
            if (!ps && closed)
                return fail(err, errlen, sub, "is not a parameter of this tool");
            if (ps && check(ps, m, sub, err, errlen))
                return -EINVAL;
        }
    }
    return 0;
}

int api_schema_check(const json_t *schema, const json_t *value, char *err, size_t errlen)
{
    return check(schema, value, "", err, errlen);
}
