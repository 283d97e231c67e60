/* A throwaway PostgreSQL cluster for one test process (see pg_harness.h). */
#define _XOPEN_SOURCE 700   /* nftw */
#include "tests/support/pg_harness.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/pgembed.h"

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    remove(path);
    return 0;   /* keep going: remove as much as we can */
}

static void remove_dir(struct td_test_pg *t)
{
    if (t->dir[0])
        nftw(t->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    t->dir[0] = '\0';
}

static int try_start(struct td_test_pg *t, char *err, size_t errlen)
{
    struct td_pgembed_opts opts = {.data_dir = t->dir};
    int rc = td_pgembed_start(&opts, &t->pg, err, errlen);
    if (rc == 0)
        snprintf(t->conninfo, sizeof t->conninfo, "%s", td_pgembed_conninfo(t->pg));
    return rc;
}

int td_test_pg_try_start(struct td_test_pg *t, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    err[0] = '\0';
    snprintf(t->dir, sizeof t->dir, "/tmp/todod-test-pg-XXXXXX");
    if (!mkdtemp(t->dir)) {
        int rc = -errno;
        t->dir[0] = '\0';
        snprintf(err, errlen, "mkdtemp: %s", strerror(-rc));
        return rc;
    }
    /* When the tests run as root, PostgreSQL runs as another user that must pass through. */
    int rc = chmod(t->dir, 0711) == 0 ? try_start(t, err, errlen) : -errno;
    if (rc == 0)
        return 0;
    if (!err[0])
        snprintf(err, errlen, "%s", strerror(-rc));
    remove_dir(t);
    return rc;
}

void td_test_pg_start(struct td_test_pg *t)
{
    char err[1024] = "";
    int rc = td_test_pg_try_start(t, err, sizeof err);
    /* Called from .init, whose failure skips .fini: cleaned up before asserting. */
    cr_assert(rc == 0, "td_test_pg_start: %d %s", rc, err);
}

void td_test_pg_start_server(struct td_test_pg *t)
{
    char err[1024] = "";
    int rc = try_start(t, err, sizeof err);
    cr_assert(rc == 0, "td_pgembed_start(%s) = %d: %s", t->dir, rc, err);
}

void td_test_pg_stop_server(struct td_test_pg *t)
{
    if (!t->pg)
        return;
    int rc = td_pgembed_stop(t->pg);
    t->pg = NULL;
    cr_assert(rc == 0, "td_pgembed_stop = %d", rc);
}

int td_test_pg_try_destroy(struct td_test_pg *t)
{
    int rc = 0;
    if (t->pg)
        rc = td_pgembed_stop(t->pg);
    t->pg = NULL;
    remove_dir(t);
    return rc;
}

/* Safe to call from a fixture's .fini after a failed or half-done start. */
void td_test_pg_destroy(struct td_test_pg *t)
{
    int rc = td_test_pg_try_destroy(t);
    cr_assert(rc == 0, "td_pgembed_stop = %d", rc);
}

char *td_test_pg_query(struct td_test_pg *t, const char *sql)
{
    char failure[1024] = "";
    char *value = NULL;
    PGconn *conn = PQconnectdb(t->conninfo);
    if (PQstatus(conn) != CONNECTION_OK) {
        snprintf(failure, sizeof failure, "connect %s: %s", t->conninfo, PQerrorMessage(conn));
    } else {
        PGresult *res = PQexec(conn, sql);
        ExecStatusType st = PQresultStatus(res);
        if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
            snprintf(failure, sizeof failure, "%s: %s", sql, PQresultErrorMessage(res));
        else if (PQntuples(res) > 0 && PQnfields(res) > 0 && !PQgetisnull(res, 0, 0))
            value = strdup(PQgetvalue(res, 0, 0));
        PQclear(res);
    }
    PQfinish(conn);
    /* Assert only after cleaning up: a failed assertion does not return. */
    cr_assert(!failure[0], "%s", failure);
    return value;
}

char *td_test_pg_error(struct td_test_pg *t, const char *sql)
{
    char *failure = NULL;
    PGconn *conn = PQconnectdb(t->conninfo);
    if (PQstatus(conn) != CONNECTION_OK) {
        failure = strdup("connect failed");
    } else {
        PGresult *res = PQexec(conn, sql);
        ExecStatusType st = PQresultStatus(res);
        if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
            const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
            size_t n = strlen(PQresultErrorMessage(res)) + 16;
            failure = malloc(n);
            snprintf(failure, n, "%s %s", state ? state : "?????", PQresultErrorMessage(res));
        }
        PQclear(res);
    }
    PQfinish(conn);
    return failure;
}
