/* The chat engine's unit tests (tests/unit/test_api_chat_<file>.c) share this: the api
 * role in the test process on a real PostgreSQL, a fake user, and one conversation the
 * messages continue. What the chat did is checked through REST and the rows. */
#ifndef TD_TEST_CHAT_HARNESS_H
#define TD_TEST_CHAT_HARNESS_H
#include <jansson.h>

#include "tests/support/api_harness.h"
#include "tests/support/role_harness.h"

struct td_test_chat {
    struct td_test_roles roles;
    struct td_test_pg   *pg;
    struct td_test_user  user;
    char                 conv[64];   /* the conversation say continues ("" before the first) */
};

/* Starts roles (the test's: the api role lives in roles_dep, not in this library). */
void td_test_chat_start(struct td_test_chat *c, const struct td_role *const *roles, size_t n);
void td_test_chat_stop(struct td_test_chat *c);
/* Sends the message in c's conversation (starting one the first time); returns the answer
 * (asserts 200). */
json_t *td_test_chat_say(struct td_test_chat *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The answer's text, or "(none)". */
const char *td_test_chat_resp(json_t *j);
/* The task through REST (GET /api/tasks/{id}), or NULL when that is not a 200. */
json_t *td_test_chat_task(struct td_test_chat *c, const char *id);
/* The id of the answer's first task into out ("" when none). */
const char *td_test_chat_first_task_id(json_t *j, char out[37]);
/* Creates a task through REST (not the chat); its id into id. */
void td_test_chat_add_rest(struct td_test_chat *c, const char *title, char id[37]);

/* The suite of a chat test file: the api role in the test process, one conversation
 * `chat` per test (criterion's init and fini). */
#define TD_TEST_CHAT_SUITE(suite)                                                      \
    extern const struct td_role td_role_api;                                           \
    static const struct td_role *const chat_roles[] = {&td_role_api};                  \
    static struct td_test_chat chat;                                                   \
    static void chat_suite_start(void) { td_test_chat_start(&chat, chat_roles, 1); }   \
    static void chat_suite_stop(void) { td_test_chat_stop(&chat); }                    \
    TestSuite(suite, .init = chat_suite_start, .fini = chat_suite_stop, .timeout = 90)

#endif
