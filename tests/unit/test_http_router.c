/* core/http_router.c: method + path to route, path parameters, 404/405/400. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "core/http_internal.h"

static void h_a(struct td_http_req *req, void *arg) { (void)req; (void)arg; }
static void h_b(struct td_http_req *req, void *arg) { (void)req; (void)arg; }

static struct td_router router;
static struct td_buf arena;
static struct td_http_param params[TD_HTTP_MAX_PARAMS];
static int nparams;
static char allow[160];
static int status;

static void setup(void)
{
    memset(&router, 0, sizeof router);
    memset(&arena, 0, sizeof arena);
}

static void teardown(void)
{
    td_router_free(&router);
    td_buf_free(&arena);
}

TestSuite(http_router, .init = setup, .fini = teardown);

static const struct td_route *match(const char *method, const char *path)
{
    td_buf_reset(&arena);
    status = 0;
    nparams = -1;
    return td_router_match(&router, method, path, &arena, params, &nparams, allow, sizeof allow,
                           &status);
}

static const char *param(const char *name)
{
    char want[64];
    snprintf(want, sizeof want, "{%s}", name);
    for (int i = 0; i < nparams; i++)
        if (strcmp(params[i].name, want) == 0)
            return params[i].value;
    return NULL;
}

static void add(const char *method, const char *pattern)
{
    cr_assert_eq(td_router_add(&router, method, pattern, 0, h_a, (void *)pattern), 0, "%s %s",
                 method, pattern);
}

Test(http_router, literal_match)
{
    add("GET", "/health");
    const struct td_route *rt = match("GET", "/health");
    cr_assert_not_null(rt);
    cr_assert_str_eq(rt->pattern, "/health");
    cr_assert_eq(rt->fn, h_a);
    cr_assert_str_eq(rt->arg, "/health");
    cr_assert_eq(nparams, 0);
}

Test(http_router, root_path)
{
    add("GET", "/");
    add("GET", "/x");
    const struct td_route *rt = match("GET", "/");
    cr_assert_not_null(rt);
    cr_assert_str_eq(rt->pattern, "/");
    cr_assert_str_eq(match("GET", "/x")->pattern, "/x");
    cr_assert_null(match("GET", "/y"));
    cr_assert_eq(status, 404);
}

Test(http_router, root_does_not_match_everything)
{
    add("GET", "/");
    cr_assert_null(match("GET", "/anything"));
    cr_assert_eq(status, 404);
}

Test(http_router, param_is_bound)
{
    add("GET", "/api/tasks/{id}");
    const struct td_route *rt = match("GET", "/api/tasks/42");
    cr_assert_not_null(rt);
    cr_assert_eq(nparams, 1);
    cr_assert_str_eq(param("id"), "42");
}

Test(http_router, several_params)
{
    add("DELETE", "/api/{user_id}/tasks/{task_id}");
    cr_assert_not_null(match("DELETE", "/api/u1/tasks/t9"));
    cr_assert_eq(nparams, 2);
    cr_assert_str_eq(param("user_id"), "u1");
    cr_assert_str_eq(param("task_id"), "t9");
}

Test(http_router, literal_beats_param_either_registration_order)
{
    /* The seeds' two API shapes live side by side. */
    add("GET", "/api/{user_id}/tasks");
    add("GET", "/api/tasks/{id}");
    add("GET", "/api/tasks/stats");
    const struct td_route *rt = match("GET", "/api/tasks/7");
    cr_assert_not_null(rt);
    cr_assert_str_eq(rt->pattern, "/api/tasks/{id}");
    cr_assert_str_eq(param("id"), "7");

    rt = match("GET", "/api/u-1/tasks");
    cr_assert_not_null(rt);
    cr_assert_str_eq(rt->pattern, "/api/{user_id}/tasks");
    cr_assert_str_eq(param("user_id"), "u-1");

    /* "/api/tasks/tasks" fits both param routes; the earlier literal wins. */
    rt = match("GET", "/api/tasks/tasks");
    cr_assert_str_eq(rt->pattern, "/api/tasks/{id}");

    rt = match("GET", "/api/tasks/stats");
    cr_assert_str_eq(rt->pattern, "/api/tasks/stats", "full literal beats one param");
}

Test(http_router, literal_beats_param_registered_first)
{
    add("GET", "/api/tasks/{id}");
    add("GET", "/api/tasks/stats");
    cr_assert_str_eq(match("GET", "/api/tasks/stats")->pattern, "/api/tasks/stats");
    cr_assert_str_eq(match("GET", "/api/tasks/stat")->pattern, "/api/tasks/{id}");
}

Test(http_router, params_percent_decoded_within_one_segment)
{
    add("GET", "/files/{name}");
    add("GET", "/files/{name}/meta");
    const struct td_route *rt = match("GET", "/files/my%20file%2Fwith%2fslash");
    cr_assert_not_null(rt);
    cr_assert_str_eq(rt->pattern, "/files/{name}", "%%2F does not split the segment");
    cr_assert_str_eq(param("name"), "my file/with/slash");
    cr_assert_str_eq(match("GET", "/files/a%2Fb/meta")->pattern, "/files/{name}/meta");
    cr_assert_str_eq(param("name"), "a/b");
    /* '+' is not a space in a path */
    match("GET", "/files/a+b");
    cr_assert_str_eq(param("name"), "a+b");
    /* UTF-8 percent-encoded */
    match("GET", "/files/caf%C3%A9");
    cr_assert_str_eq(param("name"), "caf\xc3\xa9");
}

Test(http_router, bad_percent_encoding_is_400)
{
    add("GET", "/files/{name}");
    const char *bad[] = {"/files/%", "/files/%2", "/files/%zz", "/files/a%g1", "/files/%00x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_null(match("GET", bad[i]), "%s", bad[i]);
        cr_assert_eq(status, 400, "%s gave %d", bad[i], status);
    }
}

Test(http_router, literal_segments_compare_raw)
{
    /* Literal segments are compared as sent: an encoded literal is not the literal. */
    add("GET", "/a b");
    cr_assert_null(match("GET", "/a%20b"));
    cr_assert_eq(status, 404);
}

Test(http_router, not_found_vs_method_not_allowed)
{
    add("GET", "/api/tasks");
    add("POST", "/api/tasks");
    add("DELETE", "/api/tasks/{id}");
    cr_assert_null(match("GET", "/api/nothing"));
    cr_assert_eq(status, 404);
    cr_assert_str_eq(allow, "");

    cr_assert_null(match("PUT", "/api/tasks"));
    cr_assert_eq(status, 405);
    cr_assert_str_eq(allow, "GET, POST");

    cr_assert_null(match("GET", "/api/tasks/5"));
    cr_assert_eq(status, 405);
    cr_assert_str_eq(allow, "DELETE");
}

Test(http_router, allow_lists_each_method_once)
{
    add("GET", "/t/{id}");
    add("GET", "/t/special");
    add("PATCH", "/t/{id}");
    cr_assert_null(match("POST", "/t/special"));
    cr_assert_eq(status, 405);
    cr_assert_str_eq(allow, "GET, PATCH");
}

Test(http_router, allow_list_fits_small_buffer)
{
    const char *methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
    for (size_t i = 0; i < 6; i++)
        add(methods[i], "/r");
    char small[12];
    int st = 0, n = 0;
    cr_assert_null(td_router_match(&router, "TRACE", "/r", &arena, params, &n, small,
                                   sizeof small, &st));
    cr_assert_eq(st, 405);
    cr_assert_lt(strlen(small), sizeof small);
    cr_assert_str_eq(small, "GET, POST");
}

Test(http_router, head_matches_get)
{
    add("GET", "/things/{id}");
    const struct td_route *rt = match("HEAD", "/things/3");
    cr_assert_not_null(rt);
    cr_assert_str_eq(rt->method, "GET");
    cr_assert_str_eq(param("id"), "3");
    add("POST", "/only-post");
    cr_assert_null(match("HEAD", "/only-post"));
    cr_assert_eq(status, 405);
    cr_assert_str_eq(allow, "POST");
}

Test(http_router, methods_are_case_sensitive)
{
    add("GET", "/x");
    cr_assert_null(match("get", "/x"));
    cr_assert_eq(status, 405);
}

Test(http_router, trailing_slash_is_strict)
{
    add("GET", "/api/tasks");
    add("GET", "/api/tasks/{id}");
    cr_assert_null(match("GET", "/api/tasks/"), "an empty segment is not a parameter");
    cr_assert_eq(status, 404);
    cr_assert_null(match("GET", "/api/tasks//"));
    cr_assert_null(match("GET", "/api//tasks"));
    cr_assert_null(match("GET", "/api/tasks/1/"));
    cr_assert_eq(status, 404);
    cr_assert_null(match("GET", "//api/tasks"));
}

Test(http_router, pattern_with_trailing_slash_matches_only_with_slash)
{
    add("GET", "/docs/");
    add("GET", "/docs");
    const struct td_route *rt = match("GET", "/docs/");
    cr_assert_not_null(rt);
    cr_assert_str_eq(rt->pattern, "/docs/");
    rt = match("GET", "/docs");
    cr_assert_not_null(rt);
    cr_assert_str_eq(rt->pattern, "/docs");
}

Test(http_router, prefix_is_not_a_match)
{
    add("GET", "/api/tasks");
    cr_assert_null(match("GET", "/api"));
    cr_assert_null(match("GET", "/api/task"));
    cr_assert_null(match("GET", "/api/tasksx"));
    cr_assert_null(match("GET", "/api/tasks/more"));
    cr_assert_eq(status, 404);
}

Test(http_router, duplicate_route_is_eexist)
{
    add("GET", "/a/{id}");
    cr_assert_eq(td_router_add(&router, "GET", "/a/{id}", 0, h_b, NULL), -EEXIST);
    cr_assert_eq(match("GET", "/a/1")->fn, h_a, "the first registration stands");
    cr_assert_eq(td_router_add(&router, "POST", "/a/{id}", 0, h_b, NULL), 0, "other method is fine");
}

Test(http_router, pattern_must_start_with_slash)
{
    cr_assert_eq(td_router_add(&router, "GET", "api", 0, h_a, NULL), -EINVAL);
    cr_assert_eq(td_router_add(&router, "GET", "", 0, h_a, NULL), -EINVAL);
}

Test(http_router, brace_without_name_is_literal)
{
    add("GET", "/x/{}");
    cr_assert_not_null(match("GET", "/x/{}"));
    cr_assert_null(match("GET", "/x/1"));
}

Test(http_router, many_params_bound_up_to_limit)
{
    add("GET", "/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}");
    cr_assert_not_null(match("GET", "/1/2/3/4/5/6/7/8"));
    cr_assert_eq(nparams, 8);
    cr_assert_str_eq(param("a"), "1");
    cr_assert_str_eq(param("h"), "8");
}

Test(http_router, arena_growth_keeps_params_valid)
{
    /* Long values make the arena reallocate between the first and the last parameter. */
    add("GET", "/{a}/{b}");
    char path[3000];
    char a[1200], b[1200];
    memset(a, 'a', sizeof a - 1);
    a[sizeof a - 1] = '\0';
    memset(b, 'b', sizeof b - 1);
    b[sizeof b - 1] = '\0';
    snprintf(path, sizeof path, "/%s/%s", a, b);
    cr_assert_not_null(match("GET", path));
    cr_assert_str_eq(param("a"), a);
    cr_assert_str_eq(param("b"), b);
}

Test(http_router, decode_function)
{
    struct td_buf out = {0};
    cr_assert_eq(td_http_decode("a%41+b", 6, 1, &out), 0);
    cr_assert_str_eq(out.data, "aA b");
    td_buf_reset(&out);
    cr_assert_eq(td_http_decode("a%41+b", 6, 0, &out), 0);
    cr_assert_str_eq(out.data, "aA+b");
    td_buf_reset(&out);
    cr_assert_eq(td_http_decode("%4", 2, 0, &out), -EINVAL);
    td_buf_reset(&out);
    cr_assert_eq(td_http_decode("%%41", 4, 0, &out), -EINVAL);
    td_buf_reset(&out);
    cr_assert_eq(td_http_decode("x%00", 4, 0, &out), -EINVAL, "NUL would cut the value");
    td_buf_reset(&out);
    cr_assert_eq(td_http_decode("%41%42", 3, 0, &out), 0, "only len bytes are read");
    cr_assert_str_eq(out.data, "A");
    cr_assert_eq(out.len, 2, "decoded bytes plus a NUL separator");
    td_buf_free(&out);
}

Test(http_router, flags_travel_with_the_route)
{
    cr_assert_eq(td_router_add(&router, "GET", "/health", TD_ROUTE_QUIET, h_a, NULL), 0);
    cr_assert_eq(td_router_add(&router, "GET", "/api/{x}", 0xfeu, h_b, NULL), 0);
    add("GET", "/plain");
    cr_assert_eq(match("GET", "/health")->flags, TD_ROUTE_QUIET);
    cr_assert_eq(match("HEAD", "/health")->flags, TD_ROUTE_QUIET, "HEAD takes the GET route's");
    cr_assert_eq(match("GET", "/api/1")->flags, 0xfeu, "bits beyond QUIET are kept as given");
    cr_assert_eq(match("GET", "/plain")->flags, 0u);
}

Test(http_router, methods_of_a_path)
{
    add("GET", "/a/{id}");
    add("POST", "/a/{id}");
    add("GET", "/a/literal");
    add("DELETE", "/a/literal");
    add("PUT", "/b");
    char out[64];
    cr_assert_eq(td_router_methods(&router, "/a/1", out, sizeof out), 2);
    cr_assert_str_eq(out, "GET, POST");
    /* both the literal and the parameter route match: every method once */
    cr_assert_eq(td_router_methods(&router, "/a/literal", out, sizeof out), 4);
    cr_assert_str_eq(out, "GET, POST, DELETE");
    cr_assert_eq(td_router_methods(&router, "/nope", out, sizeof out), 0);
    cr_assert_str_eq(out, "");
    char small[10];
    cr_assert_eq(td_router_methods(&router, "/a/literal", small, sizeof small), 4);
    cr_assert_str_eq(small, "GET, POST", "a name that does not fit is left out whole");
}

Test(http_router, allow_list_compares_whole_names)
{
    add("PUTX", "/m");
    add("PUT", "/m");
    match("GET", "/m");
    cr_assert_eq(status, 405);
    cr_assert_str_eq(allow, "PUTX, PUT", "PUT is not inside PUTX");
}
