/* Schema migrations (see core/migrate.h). Blocking libpq is right here: this runs
 * before the loop starts, or as `todod migrate`. */
#include "core/migrate.h"

#include <errno.h>
#include <libpq-fe.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Session advisory lock key: "tododmig" read as a big-endian 64-bit integer. Every
 * process that migrates takes it, so replicas starting together apply each file once. */
#define LOCK_KEY "8390035060403562855"

struct run {
    PGconn              *conn;
    const struct td_log *log;
    char                *err;
    size_t               errlen;
};

static int fail(struct run *r, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct run *r, int rc, const char *fmt, ...)
{
    if (!r->err || !r->errlen)
        return rc;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, r->errlen, fmt, ap);
    va_end(ap);
    /* One line: libpq's messages end in (and may hold) newlines. */
    size_t n = strlen(r->err);
    while (n > 0 && (r->err[n - 1] == '\n' || r->err[n - 1] == ' '))
        r->err[--n] = '\0';
    for (char *p = r->err; *p; p++)
        if (*p == '\n')
            *p = ' ';
    return rc;
}

/* Server notices ("relation already exists, skipping") would go to stderr raw. */
static void on_notice(void *arg, const char *message)
{
    const struct td_log *log = arg;
    if (log)
        td_log_debug(log, "postgres: %.*s", (int)strcspn(message, "\n"), message);
}

/* Runs sql and expects success; err names what was being done. */
static int exec_ok(struct run *r, const char *sql, const char *what)
{
    PGresult *res = PQexec(r->conn, sql);
    ExecStatusType st = PQresultStatus(res);
    int rc = 0;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        rc = fail(r, -EIO, "%s: %s", what, PQresultErrorMessage(res));
    PQclear(res);
    return rc;
}

static int sha256_hex(const struct td_embedded_file *f, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(f->data, f->len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
        return -EIO;
    for (unsigned i = 0; i < mdlen; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    return 0;
}

/* The server reports an error position in characters of the whole file; a line number
 * is what a person looking at the .sql file wants. */
static int error_line(const struct td_embedded_file *f, const PGresult *res)
{
    const char *pos = PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION);
    if (!pos)
        return 0;
    long chars = strtol(pos, NULL, 10);
    int line = 1;
    for (size_t i = 0; i < f->len && chars > 1; i++) {
        if (((unsigned char)f->data[i] & 0xC0) != 0x80)   /* not a UTF-8 continuation byte */
            chars--;
        if (f->data[i] == '\n')
            line++;
    }
    return line;
}

/* One file and its schema_migrations row commit together, or neither does. */
static int apply_one(struct run *r, const struct td_embedded_file *f, const char *sum)
{
    int rc = exec_ok(r, "BEGIN", "cannot begin a transaction");
    if (rc < 0)
        return rc;
    PGresult *res = PQexec(r->conn, f->data);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) {
        const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
        int line = error_line(f, res);
        char where[32] = "";
        if (line > 0)
            snprintf(where, sizeof where, " at line %d", line);
        rc = fail(r, -EIO, "migration %s failed%s: %s", f->name, where,
                  msg ? msg : PQerrorMessage(r->conn));
    } else if (PQtransactionStatus(r->conn) != PQTRANS_INTRANS) {
        /* A COMMIT inside the file would split it from its record: refuse to record it. */
        rc = fail(r, -EIO, "migration %s ended the transaction itself (COMMIT or ROLLBACK in "
                  "the file); migrations must not manage transactions", f->name);
    }
    PQclear(res);
    if (rc < 0) {
        PQclear(PQexec(r->conn, "ROLLBACK"));
        return rc;
    }

    const char *params[2] = {f->name, sum};
    res = PQexecParams(r->conn, "INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)",
                       2, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        rc = fail(r, -EIO, "cannot record migration %s: %s", f->name, PQresultErrorMessage(res));
    PQclear(res);
    if (rc < 0) {
        PQclear(PQexec(r->conn, "ROLLBACK"));
        return rc;
    }

    /* COMMIT of a failed transaction "succeeds" with the tag ROLLBACK: check the tag. */
    res = PQexec(r->conn, "COMMIT");
    if (PQresultStatus(res) != PGRES_COMMAND_OK || strcmp(PQcmdStatus(res), "COMMIT") != 0)
        rc = fail(r, -EIO, "cannot commit migration %s: %s", f->name,
                  *PQresultErrorMessage(res) ? PQresultErrorMessage(res) : "rolled back");
    PQclear(res);
    return rc;
}

/* Checks every file against what is recorded and applies the missing ones, in order. */
static int apply_all(struct run *r, const struct td_embedded_file *files, size_t count,
                     int *applied)
{
    int rc = exec_ok(r, "CREATE TABLE IF NOT EXISTS schema_migrations ("
                        " name       text PRIMARY KEY,"
                        " checksum   text NOT NULL,"          /* sha256 of the file, hex */
                        " applied_at timestamptz NOT NULL DEFAULT now())",
                     "cannot create schema_migrations");
    if (rc < 0)
        return rc;
    PGresult *done = PQexec(r->conn, "SELECT name, checksum FROM schema_migrations");
    if (PQresultStatus(done) != PGRES_TUPLES_OK) {
        rc = fail(r, -EIO, "cannot read schema_migrations: %s", PQresultErrorMessage(done));
        PQclear(done);
        return rc;
    }
    for (size_t i = 0; i < count && rc == 0; i++) {
        const struct td_embedded_file *f = &files[i];
        char sum[65];
        if (sha256_hex(f, sum) < 0) {
            rc = fail(r, -EIO, "cannot compute the checksum of migration %s", f->name);
            break;
        }
        const char *recorded = NULL;
        for (int row = 0; row < PQntuples(done) && !recorded; row++)
            if (strcmp(PQgetvalue(done, row, 0), f->name) == 0)
                recorded = PQgetvalue(done, row, 1);
        if (recorded) {
            if (strcmp(recorded, sum) != 0)
                rc = fail(r, -EINVAL, "migration %s was changed after it was applied (checksum "
                          "%.12s... recorded, %.12s... now); shipped migrations never change: "
                          "add a new file instead", f->name, recorded, sum);
            continue;
        }
        if ((rc = apply_one(r, f, sum)) == 0) {
            (*applied)++;
            if (r->log)
                td_log_info(r->log, "applied migration %s", f->name);
        }
    }
    PQclear(done);
    return rc;
}

int td_migrate_apply(const char *conninfo, const struct td_embedded_file *files, size_t count,
                     const struct td_log *log, int *applied, char *err, size_t errlen)
{
    struct run r = {.log = log, .err = err, .errlen = errlen};
    int ignored;
    if (!applied)
        applied = &ignored;
    *applied = 0;
    if (err && errlen)
        err[0] = '\0';

    /* "Applied in name order" is the contract; a list out of order is a build mistake. */
    for (size_t i = 1; i < count; i++)
        if (strcmp(files[i - 1].name, files[i].name) >= 0)
            return fail(&r, -EINVAL, "embedded migrations are not in name order: %s before %s",
                        files[i - 1].name, files[i].name);

    r.conn = PQconnectdb(conninfo);
    if (PQstatus(r.conn) != CONNECTION_OK) {
        int rc = fail(&r, -ECONNREFUSED, "cannot connect to PostgreSQL to migrate: %s",
                      PQerrorMessage(r.conn));
        PQfinish(r.conn);
        return rc;
    }
    PQsetNoticeProcessor(r.conn, on_notice, (void *)log);

    int rc = exec_ok(&r, "SELECT pg_advisory_lock(" LOCK_KEY ")", "cannot take the migration lock");
    if (rc == 0) {
        rc = apply_all(&r, files, count, applied);
        /* Ending the session would release it too; say so explicitly anyway. */
        PQclear(PQexec(r.conn, "SELECT pg_advisory_unlock(" LOCK_KEY ")"));
    }
    PQfinish(r.conn);
    return rc;
}
