/* The official MCP TypeScript SDK client (tests/mcp, from npm) against `todod all`: it
 * connects over streamable HTTP with a bearer token, lists the tools, calls each one and
 * checks the change through REST, and sees a foreign user_id refused (tests/mcp/
 * sdk_test.mjs holds those checks). Here: the script passes, and the tool calls left the
 * same events in the outbox as REST writes do. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/support/api_harness.h"
#include "tests/support/pg_harness.h"
#include "tests/support/proc_harness.h"

static struct td_test_pg pg;
static struct td_test_proc todod;

static void start(void)
{
    td_test_pg_start(&pg);
    const char *argv[] = {"all", "--database-url", pg.conninfo, "--rate-limit-user", "0",
                          "--rate-limit-addr", "0", NULL};
    td_test_spawn(&todod, argv, NULL);
}

static void stop(void)
{
    cr_expect_eq(td_test_stop(&todod, SIGTERM, 15000), 0);
    td_test_pg_destroy(&pg);
}

TestSuite(mcp_sdk, .init = start, .fini = stop, .timeout = 180);

Test(mcp_sdk, the_sdk_client_calls_every_tool_and_rest_sees_the_changes)
{
    const char *root = getenv("TODOD_SOURCE_ROOT");
    cr_assert(root, "TODOD_SOURCE_ROOT is set by meson");
    char *modules = td_test_fmt("%s/tests/mcp/node_modules/@modelcontextprotocol/sdk", root);
    cr_assert_eq(access(modules, R_OK), 0,
                 "%s is missing: run `make deps` (npm ci in tests/mcp)", modules);
    free(modules);
    struct td_test_user user;
    td_test_user_fake(&user);
    char *cmd = td_test_fmt("cd '%s/tests/mcp' && MCP_BASE=http://127.0.0.1:%d MCP_TOKEN='%s' "
                            "MCP_USER='%s' MCP_OTHER_USER='%s-other' node sdk_test.mjs 2>&1",
                            root, todod.port, user.token, user.id, user.id);
    FILE *p = popen(cmd, "r");
    cr_assert(p, "cannot run node");
    char line[4096], task[64] = "";
    int oks = 0;
    while (fgets(line, sizeof line, p)) {
        fputs(line, stderr);
        oks += strncmp(line, "ok ", 3) == 0;
        if (strncmp(line, "# task ", 7) == 0)
            sscanf(line + 7, "%36s", task);
    }
    int status = pclose(p);
    free(cmd);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "sdk_test.mjs failed (see above)");
    cr_expect_geq(oks, 17, "every check of sdk_test.mjs ran");
    cr_assert_eq(strlen(task), 36, "the script named the task it worked on");
    /* Every write went through the task code: one event per change, in order. */
    char *types = td_test_outbox_types(&pg, task);
    cr_expect(strncmp(types, "todo.task.created,todo.task.updated", 35) == 0, "events: %s", types);
    cr_expect(strstr(types, "todo.task.completed") != NULL, "events: %s", types);
    size_t n = strlen(types);
    cr_expect(n > 17 && strcmp(types + n - 17, "todo.task.deleted") == 0, "events: %s", types);
    free(types);
    /* The foreign user's calls wrote nothing anywhere. */
    cr_expect_eq(td_test_pg_long(&pg, "SELECT count(*) FROM tasks WHERE user_id = '%s-other'",
                                 user.id), 0);
    cr_expect_eq(td_test_pg_long(&pg, "SELECT count(*) FROM tasks WHERE title = 'Sneaky'"), 0);
}
