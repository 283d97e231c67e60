/* A throwaway PostgreSQL cluster for one test process (built on core/pgembed). */
#ifndef TD_TEST_PG_HARNESS_H
#define TD_TEST_PG_HARNESS_H
#include <stddef.h>

struct td_test_pg {
    char dir[256];          /* mkdtemp'd, world-traversable so a dropped user can reach it */
    char conninfo[512];     /* libpq conninfo string */
    struct td_pgembed *pg;  /* running cluster */
};

/* Creates a temp dir, starts a cluster in it; asserts (criterion) on failure. */
void td_test_pg_start(struct td_test_pg *t);
/* Stops the server but keeps the directory (to test outages). */
void td_test_pg_stop_server(struct td_test_pg *t);
/* Starts the server again in the same directory (same conninfo). */
void td_test_pg_start_server(struct td_test_pg *t);
/* Stops the server and removes the directory. */
void td_test_pg_destroy(struct td_test_pg *t);
/* The same without criterion's assertions (for report hooks, which run outside any
 * test): 0 or a negative code, with one human line in err. */
int  td_test_pg_try_start(struct td_test_pg *t, char *err, size_t errlen);
int  td_test_pg_try_destroy(struct td_test_pg *t);
/* Runs one SQL statement synchronously (blocking libpq); returns the first value of the
 * first row as a malloc'd string (NULL when none); asserts on SQL errors. */
char *td_test_pg_query(struct td_test_pg *t, const char *sql);
/* Runs SQL that is expected to fail: returns "SQLSTATE message" (malloc'd), or NULL when
 * it succeeded. */
char *td_test_pg_error(struct td_test_pg *t, const char *sql);

#endif
