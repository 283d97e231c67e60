/* proto/openapi.yaml and the server agree: every route `todod routes` prints is described,
 * and nothing else is; every operation has an operationId (unique) and a response.
 *
 * The spec is read with a small line-based parser, enough for the layout the file keeps:
 * path keys at indent 2 under a top-level "paths:", methods at indent 4, an operation's
 * own keys (operationId, responses) at indent 6, status codes at indent 8. */
#include <criterion/criterion.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/proc_harness.h"

#define MAX_OPS 256

struct op {
    char method[16];
    char path[256];
    char operation_id[128];
    int  responses;    /* status-code keys under responses: */
    int  line;         /* where the method key is in the spec */
};

struct op_set {
    struct op items[MAX_OPS];
    int       n;
};

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert(f, "cannot open %s: %s", path, strerror(errno));
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    long size = ftell(f);
    cr_assert(size >= 0);
    rewind(f);
    char *text = malloc((size_t)size + 1);
    cr_assert(text);
    cr_assert_eq(fread(text, 1, (size_t)size, f), (size_t)size, "short read of %s", path);
    text[size] = '\0';
    fclose(f);
    return text;
}

/* Leading spaces of a line; -1 for blank lines and comments (they never end a block). */
static int indent_of(const char *line)
{
    int i = 0;
    while (line[i] == ' ')
        i++;
    if (line[i] == '\0' || line[i] == '#' || line[i] == '\r')
        return -1;
    return i;
}

/* The mapping key of a "key: value" or "key:" line (quotes removed) into out; 0 if the
 * line is not a mapping key (a list item, a continuation line...). */
static int key_of(const char *line, char *out, size_t outlen, const char **value)
{
    const char *p = line;
    while (*p == ' ')
        p++;
    if (*p == '-' || *p == '\0')
        return 0;
    const char *start = p, *end;
    if (*p == '\'' || *p == '"') {
        char q = *p++;
        start = p;
        end = strchr(p, q);
        if (!end || end[1] != ':')
            return 0;
        p = end + 1;
    } else {
        /* A plain key ends at ": " or a ':' that ends the line. */
        for (end = p; *end; end++)
            if (*end == ':' && (end[1] == ' ' || end[1] == '\0' || end[1] == '\r'))
                break;
        if (!*end)
            return 0;
        p = end;
    }
    size_t len = (size_t)(end - start);
    if (len >= outlen)
        len = outlen - 1;
    memcpy(out, start, len);
    out[len] = '\0';
    p++;   /* past ':' */
    while (*p == ' ')
        p++;
    if (value)
        *value = p;
    return 1;
}

static int http_method(const char *key, char *upper, size_t len)
{
    static const char *const methods[] = {"get", "put", "post", "delete", "options", "head",
                                          "patch", "trace"};
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (strcmp(key, methods[i]) == 0) {
            size_t j = 0;
            for (; key[j] && j + 1 < len; j++)
                upper[j] = (char)toupper((unsigned char)key[j]);
            upper[j] = '\0';
            return 1;
        }
    return 0;
}

/* A status code key: 200, '200', 2XX, default. */
static int status_key(const char *key)
{
    if (strcmp(key, "default") == 0)
        return 1;
    return strlen(key) == 3 && key[0] >= '1' && key[0] <= '5' &&
           (isdigit((unsigned char)key[1]) || key[1] == 'X') &&
           (isdigit((unsigned char)key[2]) || key[2] == 'X');
}

static void parse_spec(char *text, struct op_set *ops)
{
    ops->n = 0;
    int in_paths = 0, saw_paths = 0, lineno = 0;
    char path[256] = "", section[256] = "";   /* section: the operation's current indent-6 key */
    struct op *cur = NULL;
    for (char *next = text, *line; (line = strsep(&next, "\n")) != NULL;) {
        lineno++;
        int ind = indent_of(line);
        if (ind < 0)
            continue;
        char key[256];
        const char *value = NULL;
        int is_key = key_of(line, key, sizeof key, &value);
        if (ind == 0) {
            in_paths = is_key && strcmp(key, "paths") == 0;
            saw_paths |= in_paths;
            cur = NULL;
            continue;
        }
        if (!in_paths)
            continue;
        if (ind == 2) {
            cr_assert(is_key && key[0] == '/', "line %d under paths: is not a path key: %s",
                      lineno, line);
            snprintf(path, sizeof path, "%s", key);
            cur = NULL;
        } else if (ind == 4) {
            char m[16];
            cur = NULL;
            if (is_key && http_method(key, m, sizeof m)) {
                cr_assert(ops->n < MAX_OPS, "more than %d operations", MAX_OPS);
                cur = &ops->items[ops->n++];
                memset(cur, 0, sizeof *cur);
                snprintf(cur->method, sizeof cur->method, "%s", m);
                snprintf(cur->path, sizeof cur->path, "%s", path);
                cur->line = lineno;
            }
        } else if (cur && ind == 6 && is_key) {
            snprintf(section, sizeof section, "%s", key);
            if (strcmp(key, "operationId") == 0) {
                size_t n = strcspn(value, " #\r");
                snprintf(cur->operation_id, sizeof cur->operation_id, "%.*s", (int)n, value);
            }
        } else if (cur && ind == 8 && is_key && strcmp(section, "responses") == 0 &&
                   status_key(key)) {
            cur->responses++;
        }
    }
    cr_assert(saw_paths, "the spec has no top-level paths:");
}

static int cmp_pairs(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted "METHOD PATH" strings of the spec (malloc'd array of malloc'd strings). */
static char **spec_pairs(const struct op_set *ops)
{
    char **v = calloc((size_t)ops->n + 1, sizeof *v);
    for (int i = 0; i < ops->n; i++) {
        size_t len = strlen(ops->items[i].method) + strlen(ops->items[i].path) + 2;
        v[i] = malloc(len);
        snprintf(v[i], len, "%s %s", ops->items[i].method, ops->items[i].path);
    }
    qsort(v, (size_t)ops->n, sizeof *v, cmp_pairs);
    return v;
}

/* Sorted lines of `todod routes`. */
static char **server_pairs(int *count)
{
    char *out = NULL, *err = NULL;
    const char *argv[] = {"routes", NULL};
    int rc = td_test_run(argv, NULL, &out, &err);
    cr_assert_eq(rc, 0, "todod routes exited %d: %s", rc, err ? err : "");
    cr_assert(out && *out, "todod routes printed nothing");
    int n = 0;
    for (const char *p = out; *p; p++)
        n += *p == '\n';
    char **v = calloc((size_t)n + 2, sizeof *v);
    int k = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        size_t len = strcspn(line, "\r");
        if (len)
            v[k++] = strndup(line, len);
    }
    qsort(v, (size_t)k, sizeof *v, cmp_pairs);
    free(out);
    free(err);
    *count = k;
    return v;
}

static void free_pairs(char **v, int n)
{
    for (int i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static char *spec_text(void)
{
    const char *root = getenv("TODOD_SOURCE_ROOT");
    cr_assert(root && *root, "TODOD_SOURCE_ROOT is not set (run the tests through meson)");
    char path[4096];
    snprintf(path, sizeof path, "%s/proto/openapi.yaml", root);
    return read_file(path);
}

Test(openapi, routes_and_spec_describe_the_same_operations)
{
    char *text = spec_text();
    static struct op_set ops;
    parse_spec(text, &ops);
    free(text);
    char **spec = spec_pairs(&ops);
    int nserver = 0;
    char **server = server_pairs(&nserver);

    /* Merge the two sorted lists; report each side's extras and duplicates. */
    char diff[8192] = "";
    size_t dl = 0;
#define NOTE(...) (dl += (size_t)snprintf(diff + dl, dl < sizeof diff ? sizeof diff - dl : 0, __VA_ARGS__), \
                   dl = dl < sizeof diff ? dl : sizeof diff - 1)
    int i = 0, j = 0, missing = 0, extra = 0, dups = 0;
    for (int k = 1; k < ops.n; k++)
        if (strcmp(spec[k], spec[k - 1]) == 0) {
            NOTE("  twice in the spec: %s\n", spec[k]);
            dups++;
        }
    for (int k = 1; k < nserver; k++)
        if (strcmp(server[k], server[k - 1]) == 0) {
            NOTE("  registered twice: %s\n", server[k]);
            dups++;
        }
    while (i < nserver || j < ops.n) {
        int c = i >= nserver ? 1 : j >= ops.n ? -1 : strcmp(server[i], spec[j]);
        if (c == 0) {
            i++;
            j++;
        } else if (c < 0) {
            NOTE("  served but not in proto/openapi.yaml: %s\n", server[i++]);
            missing++;
        } else {
            NOTE("  in proto/openapi.yaml but not served: %s\n", spec[j++]);
            extra++;
        }
    }
#undef NOTE
    cr_log_info("todod routes: %d, spec operations: %d", nserver, ops.n);
    cr_expect(nserver > 0 && ops.n > 0, "nothing to compare (%d routes, %d operations)",
              nserver, ops.n);
    cr_expect(missing == 0 && extra == 0 && dups == 0,
              "routes and spec disagree (%d undocumented, %d not served, %d duplicated):\n%s",
              missing, extra, dups, diff);
    free_pairs(spec, ops.n);
    free_pairs(server, nserver);
}

Test(openapi, every_operation_has_an_id_and_a_response)
{
    char *text = spec_text();
    static struct op_set ops;
    parse_spec(text, &ops);
    free(text);
    cr_assert(ops.n > 0, "no operations found under paths:");
    for (int i = 0; i < ops.n; i++) {
        const struct op *o = &ops.items[i];
        cr_expect(o->operation_id[0], "%s %s has no operationId", o->method, o->path);
        cr_expect(o->responses > 0, "%s %s has no responses", o->method, o->path);
        for (int k = 0; k < i; k++)
            cr_expect(!o->operation_id[0] || strcmp(o->operation_id, ops.items[k].operation_id) != 0,
                      "operationId %s is used by %s %s and %s %s", o->operation_id,
                      ops.items[k].method, ops.items[k].path, o->method, o->path);
    }
}

/* The parser itself: a spec missing a route, an id and responses is caught. */
Test(openapi, parser_reads_the_layout)
{
    char text[] =
        "openapi: 3.1.0\n"
        "paths:\n"
        "  # comment\n"
        "  /a:\n"
        "    parameters:\n"
        "      - name: x\n"
        "    get:\n"
        "      operationId: getA   # trailing comment\n"
        "      description: |\n"
        "        '200': not a response\n"
        "      responses:\n"
        "        '200':\n"
        "          description: ok\n"
        "        default:\n"
        "          description: error\n"
        "  '/b/{id}':\n"
        "    delete:\n"
        "      responses: {}\n"
        "components:\n"
        "  x:\n"
        "    get:\n";
    static struct op_set ops;
    parse_spec(text, &ops);
    cr_assert_eq(ops.n, 2);
    cr_expect_str_eq(ops.items[0].method, "GET");
    cr_expect_str_eq(ops.items[0].path, "/a");
    cr_expect_str_eq(ops.items[0].operation_id, "getA");
    cr_expect_eq(ops.items[0].responses, 2);
    cr_expect_str_eq(ops.items[1].method, "DELETE");
    cr_expect_str_eq(ops.items[1].path, "/b/{id}");
    cr_expect_str_empty(ops.items[1].operation_id);
    cr_expect_eq(ops.items[1].responses, 0);
}
