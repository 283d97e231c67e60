/* Helpers for the api role's integration tests: tokens signed by the test itself (so the
 * tests do not trust the server's issuer), accounts, authorized requests, JSON bodies,
 * and PostgreSQL queries for the rows (tasks, outbox) behind the answers. */
#ifndef TD_TEST_API_HARNESS_H
#define TD_TEST_API_HARNESS_H
#include <jansson.h>
#include <stddef.h>

#include "tests/support/net_harness.h"
#include "tests/support/pg_harness.h"

/* ---------- JWTs ---------- */

/* header.payload.signature over the given JSON texts. The signature is HMAC with the
 * hash the header's "alg" names (HS256 by default, HS384, HS512); "none" or an unknown
 * algorithm gives an empty signature, unless force_hs256 signs with HMAC-SHA256 anyway
 * (algorithm confusion: an RS256 header over an HS256 MAC). secret NULL means
 * TD_TEST_JWT_SECRET. Returns a malloc'd token. */
char *td_test_jwt_raw(const char *header_json, const char *payload_json, const char *secret,
                      int force_hs256);

/* Claims for td_test_jwt_claims. Times are offsets in seconds from now; a claim is
 * written only when its has_* flag (or string) is set. */
struct td_test_claims {
    const char *sub;         /* NULL: no "sub" */
    int         has_exp;  long exp;   /* e.g. 3600 */
    int         has_iat;  long iat;
    int         has_nbf;  long nbf;
    const char *aud;         /* NULL: none */
    const char *iss;         /* NULL: none */
    const char *alg;         /* NULL: HS256 */
    const char *secret;      /* NULL: TD_TEST_JWT_SECRET */
    int         force_hs256; /* see td_test_jwt_raw */
};
char *td_test_jwt_claims(const struct td_test_claims *c);

/* Audience and issuer added by td_test_jwt (NULL: none). Set once per test process. */
extern const char *td_test_jwt_aud;
extern const char *td_test_jwt_iss;
/* A valid HS256 token for sub: iat now, exp in an hour, aud/iss from the globals above. */
char *td_test_jwt(const char *sub);

/* ---------- users ---------- */

struct td_test_user {
    char id[160];
    char email[160];
    char token[2048];
};

/* A random UUID v4 (lower case). */
void td_test_uuid(char out[37]);
/* A user that never signed up: random UUID subject, token signed by the test. */
void td_test_user_fake(struct td_test_user *u);
/* POST /api/auth/signup; asserts 201 and fills u from the answer (server's token). */
void td_test_signup(int port, const char *email, const char *password, const char *name,
                    struct td_test_user *u);

/* ---------- requests ---------- */

/* One request; adds "Authorization: Bearer <token>" when token is non-NULL. Asserts
 * that the server answered. Returns the status. */
int td_test_api(int port, const char *token, const char *method, const char *path,
                const char *body, const char *const *headers, struct td_test_http *out);
/* Same, returning the body parsed as JSON in *json (NULL when it is not JSON) and
 * freeing the rest. json may be NULL. */
int td_test_api_json(int port, const char *token, const char *method, const char *path,
                     const char *body, const char *const *headers, json_t **json);
/* POST /api/tasks with body; asserts 201; returns the task object. */
json_t *td_test_create_task(int port, const char *token, const char *body);

/* malloc'd printf. */
char *td_test_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The body as JSON; asserts it parses. */
json_t *td_test_body_json(const struct td_test_http *r);
/* The string at a dotted path ("data.task_data.title"), or NULL. */
const char *td_test_jstr(json_t *j, const char *path);
/* The value at a dotted path, or NULL (borrowed). */
json_t *td_test_jget(json_t *j, const char *path);
/* Expects (cr_expect) an RFC 9457 answer: status, application/problem+json, the type
 * TD_PROBLEM_BASE slug and the same status in the body. what names the case. */
void td_test_expect_problem(const struct td_test_http *r, int status, const char *slug,
                            const char *what);
/* 1 when a problem+json answer's errors[] names field (exactly, or as "field[..." /
 * "field.") */
int td_test_problem_names(json_t *problem, const char *field);

/* ---------- PostgreSQL ---------- */

/* td_test_pg_query with printf formatting (test-made values only: no escaping). */
char *td_test_pg_queryf(struct td_test_pg *pg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The first value of the query as a number (count(*) and the like); -1 when NULL. */
long td_test_pg_long(struct td_test_pg *pg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* These read topic task-events only (notify's reminder events on topic reminders name
 * the task too). Outbox rows about a task: their CloudEvents types in commit order, comma-separated
 * ("todo.task.created,todo.task.completed"); "" when none. malloc'd. */
char *td_test_outbox_types(struct td_test_pg *pg, const char *task_id);
/* Number of task-events outbox rows (all tasks). */
long td_test_outbox_count(struct td_test_pg *pg);
/* The newest outbox row about a task as {"topic","key","event","headers",
 * "same_tx"} where same_tx is true when the row was written in the transaction that
 * last wrote the task (same transaction start time); NULL when none. */
json_t *td_test_outbox_last(struct td_test_pg *pg, const char *task_id);

#endif
