#include "tests/support/json_schema.h"

#include <criterion/criterion.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ctx {
    json_t *root;
    char   *why;
    size_t  whylen;
};

static int failf(struct ctx *c, const char *path, const char *what, const char *detail)
{
    snprintf(c->why, c->whylen, "%s: %s%s%s", path[0] ? path : "(root)", what,
             detail ? " " : "", detail ? detail : "");
    return -1;
}

static int is_uuid(const char *s)
{
    if (strlen(s) != 36)
        return 0;
    for (int i = 0; i < 36; i++)
        if ((i == 8 || i == 13 || i == 18 || i == 23) ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

/* RFC 3339 date-time: YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM) */
static int is_date_time(const char *s)
{
    const char *shape = "dddd-dd-ddTdd:dd:dd";
    for (int i = 0; shape[i]; i++)
        if (shape[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != shape[i])
            return 0;
    const char *p = s + 19;
    if (*p == '.')
        for (p++; isdigit((unsigned char)*p); p++)
            ;
    if (*p == 'Z')
        return p[1] == '\0';
    return (*p == '+' || *p == '-') && isdigit((unsigned char)p[1]) && isdigit((unsigned char)p[2]) &&
           p[3] == ':' && isdigit((unsigned char)p[4]) && isdigit((unsigned char)p[5]) && !p[6];
}

static int type_matches(const char *type, json_t *v)
{
    if (!strcmp(type, "object")) return json_is_object(v);
    if (!strcmp(type, "array")) return json_is_array(v);
    if (!strcmp(type, "string")) return json_is_string(v);
    if (!strcmp(type, "integer")) return json_is_integer(v);
    if (!strcmp(type, "number")) return json_is_number(v);
    if (!strcmp(type, "boolean")) return json_is_boolean(v);
    if (!strcmp(type, "null")) return json_is_null(v);
    return 0;
}

static int validate(struct ctx *c, json_t *schema, json_t *v, const char *path);

static int check_type(struct ctx *c, json_t *t, json_t *v, const char *path)
{
    if (json_is_string(t))
        return type_matches(json_string_value(t), v) ? 0 : failf(c, path, "is not a", json_string_value(t));
    size_t i;
    json_t *one;
    json_array_foreach(t, i, one)
        if (type_matches(json_string_value(one), v))
            return 0;
    return failf(c, path, "has none of the allowed types", NULL);
}

static int check_object(struct ctx *c, json_t *schema, json_t *v, const char *path)
{
    char sub[512];
    size_t i;
    json_t *req;
    json_array_foreach(json_object_get(schema, "required"), i, req)
        if (!json_object_get(v, json_string_value(req)))
            return failf(c, path, "lacks required member", json_string_value(req));
    json_t *props = json_object_get(schema, "properties");
    const char *key;
    json_t *member;
    json_object_foreach(v, key, member) {
        json_t *ps = props ? json_object_get(props, key) : NULL;
        snprintf(sub, sizeof sub, "%s.%s", path, key);
        if (!ps) {
            if (json_is_false(json_object_get(schema, "additionalProperties")))
                return failf(c, sub, "is not allowed", NULL);
            continue;
        }
        if (validate(c, ps, member, sub))
            return -1;
    }
    return 0;
}

static int validate(struct ctx *c, json_t *schema, json_t *v, const char *path)
{
    static const char *const known[] = {"$schema", "$id", "title", "description", "type", "const",
        "enum", "required", "properties", "additionalProperties", "items", "minLength", "format",
        "$ref", "$defs", NULL};
    const char *kw;
    json_t *val;
    json_object_foreach(schema, kw, val) {
        int ok = 0;
        for (int i = 0; known[i]; i++)
            ok |= !strcmp(kw, known[i]);
        if (!ok)
            return failf(c, path, "schema uses a keyword this checker does not know:", kw);
    }
    json_t *ref = json_object_get(schema, "$ref");
    if (ref) {
        const char *r = json_string_value(ref);
        if (strncmp(r, "#/$defs/", 8) != 0)
            return failf(c, path, "unsupported $ref", r);
        json_t *target = json_object_get(json_object_get(c->root, "$defs"), r + 8);
        if (!target)
            return failf(c, path, "dangling $ref", r);
        return validate(c, target, v, path);
    }
    json_t *t = json_object_get(schema, "type");
    if (t && check_type(c, t, v, path))
        return -1;
    json_t *cv = json_object_get(schema, "const");
    if (cv && !json_equal(cv, v))
        return failf(c, path, "differs from the constant", NULL);
    json_t *e = json_object_get(schema, "enum");
    if (e) {
        size_t i;
        json_t *one;
        int found = 0;
        json_array_foreach(e, i, one)
            found |= json_equal(one, v);
        if (!found)
            return failf(c, path, "is not one of the enum values", json_string_value(v));
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        json_t *min = json_object_get(schema, "minLength");
        if (min && (json_int_t)strlen(s) < json_integer_value(min))
            return failf(c, path, "is too short", NULL);
        const char *fmt = json_string_value(json_object_get(schema, "format"));
        if (fmt && !strcmp(fmt, "uuid") && !is_uuid(s))
            return failf(c, path, "is not a uuid:", s);
        if (fmt && !strcmp(fmt, "date-time") && !is_date_time(s))
            return failf(c, path, "is not an RFC 3339 date-time:", s);
    }
    if (json_is_object(v) && check_object(c, schema, v, path))
        return -1;
    json_t *items = json_object_get(schema, "items");
    if (items && json_is_array(v)) {
        size_t i;
        json_t *one;
        char sub[512];
        json_array_foreach(v, i, one) {
            snprintf(sub, sizeof sub, "%s[%zu]", path, i);
            if (validate(c, items, one, sub))
                return -1;
        }
    }
    return 0;
}

int td_test_schema_validate(json_t *schema, json_t *instance, char *why, size_t whylen)
{
    struct ctx c = {schema, why, whylen};
    why[0] = '\0';
    return validate(&c, schema, instance, "");
}

json_t *td_test_schema_load(const char *relpath)
{
    const char *root = getenv("TODOD_SOURCE_ROOT");
    cr_assert(root, "TODOD_SOURCE_ROOT is not set (run through meson)");
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", root, relpath);
    json_error_t err;
    json_t *j = json_load_file(path, 0, &err);
    cr_assert(j, "%s: %s (line %d)", path, err.text, err.line);
    return j;
}
