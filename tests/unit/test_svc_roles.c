/* core/svc_roles.c: what core reads from the roles' tables before anything runs (the
 * door, the route list, the settings groups). Starting roles is tested through
 * td_svc_run in test_svc.c and the role harness. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "core/config.h"
#include "core/door.h"
#include "core/svc_roles.h"

static void h_any(struct td_http_req *req, void *state)
{
    (void)req;
    (void)state;
}

static const struct td_route_def open_rows[] = {{"GET", "/open", h_any, 0}, {0}};
static const struct td_route_def api_rows[] = {
    {"GET", "/api/things", h_any, TD_DOOR_BEARER},
    {"POST", "/api/things/{id}", h_any, TD_DOOR_BEARER},
    {0},
};
static const struct td_route_def *const open_routes[] = {open_rows, NULL};
static const struct td_route_def *const both_routes[] = {open_rows, api_rows, NULL};

struct fake_conf {
    int batch;
};
static const struct td_setting fake_setting_rows[] = {
    {"fake-batch", "TODOD_FAKE_BATCH", "N", TD_SET_INT, offsetof(struct fake_conf, batch), 1, 64,
     "8", NULL, "a role's own setting", NULL, NULL},
    {0},
};
static const struct td_settings_group fake_settings = {
    .name = "fake", .rows = fake_setting_rows, .block_size = sizeof(struct fake_conf),
};

static const struct td_role open_role = {.name = "open", .routes = open_routes,
                                         .settings = &fake_settings};
static const struct td_role api_role = {.name = "withapi", .routes = both_routes};

Test(svc_roles, the_door_is_needed_only_by_routes_behind_it)
{
    const struct td_role *one[] = {&open_role}, *two[] = {&open_role, &api_role};
    cr_expect_eq(td_roles_need_door(one, 1), 0);
    cr_expect_eq(td_roles_need_door(two, 2), 1);
    cr_expect_eq(td_roles_need_door(NULL, 0), 0);
}

Test(svc_roles, dump_lists_every_table_in_order)
{
    const struct td_role *two[] = {&open_role, &api_role};
    struct td_buf out = {0};
    cr_assert_eq(td_roles_dump(two, 2, &out), 0);
    cr_expect_str_eq(out.data, "GET /open\nGET /open\nGET /api/things\nPOST /api/things/{id}\n");
    td_buf_free(&out);
}

Test(svc_roles, a_role_extends_the_settings_with_its_own_rows)
{
    const struct td_role *roles[] = {&open_role};
    struct td_config c;
    td_config_defaults(&c);
    cr_assert_eq(td_svc_add_settings(&c, roles, 1), 0);
    cr_expect_null(td_config_group(&c, &td_door_settings), "no /api routes, no door settings");
    char *argv[] = {"--fake-batch", "32", NULL};
    char err[200] = "";
    cr_assert_eq(td_config_load(&c, 2, argv, err, sizeof err), 0, "%s", err);
    const struct fake_conf *fc = td_config_group(&c, &fake_settings);
    cr_assert_not_null(fc);
    cr_assert_eq(fc->batch, 32);
    char *bad[] = {"--fake-batch", "99", NULL};
    cr_assert_eq(td_config_load(&c, 2, bad, err, sizeof err), -EINVAL);
    cr_assert_not_null(strstr(err, "--fake-batch"), "%s", err);
    td_config_free(&c);
}

Test(svc_roles, routes_behind_the_door_bring_its_settings)
{
    const struct td_role *roles[] = {&api_role};
    struct td_config c;
    td_config_defaults(&c);
    cr_assert_eq(td_svc_add_settings(&c, roles, 1), 0);
    cr_expect_not_null(td_config_group(&c, &td_door_settings));
    td_config_free(&c);
}
