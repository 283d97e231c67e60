/* A private PostgreSQL cluster run as a child process (see core/pgembed.h).
 *
 * Layout under <data_dir>:
 *   pg/      the cluster (initdb'd on first use), owned by the user PostgreSQL runs as
 *   run/     the unix socket and its lock file; mode 0700, so only that user (and root)
 *            can connect: with trust authentication the socket's directory is the gate
 *   pg.log   PostgreSQL's own output (initdb and server), appended, never our stderr
 *
 * Everything here is synchronous and runs before the loop starts or after it ends. */
#include "core/pgembed.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#define START_TIMEOUT_MS 30000   /* until the server accepts connections */
#define STOP_TIMEOUT_MS  30000   /* fast shutdown (SIGINT) */
#define KILL_TIMEOUT_MS  5000    /* each of SIGQUIT and SIGKILL after that */
#define PG_USER          "todod" /* the cluster's superuser and our login */
#define PG_DATABASE      "todod"

struct td_pgembed {
    pid_t                pid;     /* the postmaster, our child */
    const struct td_log *log;     /* not owned */
    char                 conninfo[PATH_MAX + 64];
};

/* State of one td_pgembed_start call. */
struct start {
    const struct td_pgembed_opts *opts;
    char   bin[PATH_MAX];        /* directory holding initdb and postgres */
    char   dir[PATH_MAX];        /* absolute data_dir */
    char   pgdata[PATH_MAX + 8];
    char   sockdir[PATH_MAX + 8];
    int    port;
    bool   drop;                 /* we are root: run PostgreSQL as user/uid/gid */
    char   user[64];
    uid_t  uid;
    gid_t  gid;
    pid_t  parent;               /* our pid, so the child notices if we die early */
    int    logfd;                /* pg.log, handed to children as stdout/stderr */
    int    nullfd;               /* /dev/null, the children's stdin */
    off_t  log_start;            /* pg.log size before this start: tails show only new lines */
    char  *err;
    size_t errlen;
};

static int fail(struct start *s, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct start *s, int rc, const char *fmt, ...)
{
    if (s->err && s->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(s->err, s->errlen, fmt, ap);
        va_end(ap);
        /* One line: libpq's messages end in (and may hold) newlines. */
        size_t n = strlen(s->err);
        while (n > 0 && (s->err[n - 1] == '\n' || s->err[n - 1] == ' '))
            s->err[--n] = '\0';
        for (char *p = s->err; *p; p++)
            if (*p == '\n')
                *p = ' ';
    }
    return rc;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* snprintf for paths. Inputs are bounded where they enter (bin dir below PATH_MAX - 32,
 * data dir by the socket path limit), so a truncated path cannot happen here. */
static void pathf(char *out, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void pathf(char *out, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, n, fmt, ap);
    va_end(ap);
}

/* The last few lines PostgreSQL wrote during this start, on one line: error messages
 * must say why the server would not come up without sending the user to a file. */
static void log_tail(const struct start *s, char *out, size_t outlen)
{
    char buf[1024];
    struct stat st;
    out[0] = '\0';
    if (fstat(s->logfd, &st) != 0 || st.st_size <= s->log_start)
        return;
    off_t from = st.st_size - (off_t)(sizeof buf - 1);
    if (from < s->log_start)
        from = s->log_start;
    ssize_t n = pread(s->logfd, buf, sizeof buf - 1, from);
    if (n <= 0)
        return;
    buf[n] = '\0';
    char *last[3] = {NULL, NULL, NULL};   /* the three most recent lines, oldest first */
    char *save = NULL;
    for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        /* Drop log_line_prefix ("<time> UTC [pid] "): the message is what matters here. */
        char *msg = strstr(line, "] ");
        if (msg && msg - line < 48)
            line = msg + 2;
        last[0] = last[1];
        last[1] = last[2];
        last[2] = line;
    }
    size_t o = 0;
    for (int i = 0; i < 3 && o < outlen; i++)
        if (last[i])
            o += (size_t)snprintf(out + o, outlen - o, "%s%s", o ? " | " : "", last[i]);
}

static int fail_with_log(struct start *s, int rc, const char *what)
{
    char tail[1024];
    log_tail(s, tail, sizeof tail);
    return fail(s, rc, "%s: %s (see %s/pg.log)", what, tail[0] ? tail : "no output", s->dir);
}

/* --- finding things --------------------------------------------------------------- */

static bool has_server(const char *bin)
{
    char path[PATH_MAX];
    pathf(path, sizeof path, "%s/postgres", bin);
    if (access(path, X_OK) != 0)
        return false;
    pathf(path, sizeof path, "%s/initdb", bin);
    return access(path, X_OK) == 0;
}

/* opts->bin_dir, else $TODOD_PG_BIN, else the newest Debian-style /usr/lib/postgresql/<v>/bin. */
static int find_bin_dir(struct start *s)
{
    const char *want = s->opts->bin_dir;
    if (!want || !*want)
        want = getenv("TODOD_PG_BIN");
    if (want && *want) {
        if (strlen(want) > PATH_MAX - 32 || !has_server(want))
            return fail(s, -ENOENT, "PostgreSQL server binaries not found in %s (need postgres "
                        "and initdb); install the postgresql package or set TODOD_PG_BIN", want);
        pathf(s->bin, sizeof s->bin, "%s", want);
        return 0;
    }
    long best = -1;
    DIR *d = opendir("/usr/lib/postgresql");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char *end;
        long v = strtol(e->d_name, &end, 10);
        char bin[PATH_MAX];
        pathf(bin, sizeof bin, "/usr/lib/postgresql/%s/bin", e->d_name);
        if (end != e->d_name && v > best && has_server(bin)) {
            best = v;
            pathf(s->bin, sizeof s->bin, "%s", bin);
        }
    }
    if (d)
        closedir(d);
    if (best < 0)
        return fail(s, -ENOENT, "PostgreSQL server binaries not found; install the postgresql "
                    "package or set TODOD_PG_BIN");
    return 0;
}

/* PostgreSQL refuses to run as root, so root hands it to an ordinary user. */
static int pick_user(struct start *s)
{
    if (geteuid() != 0)
        return 0;
    const char *names[] = {s->opts->run_as, "postgres", "nobody"};
    for (size_t i = s->opts->run_as ? 0 : 1; i < 3; i++) {
        char buf[4096];
        struct passwd pw, *res = NULL;
        if (getpwnam_r(names[i], &pw, buf, sizeof buf, &res) != 0 || !res) {
            if (i == 0)   /* an explicit choice that does not exist is a mistake, not a hint */
                return fail(s, -ENOENT, "user '%s' (to run PostgreSQL as) does not exist", names[i]);
            continue;
        }
        if (pw.pw_uid == 0)
            return fail(s, -EINVAL, "PostgreSQL cannot run as root; choose another user than '%s'",
                        names[i]);
        s->drop = true;
        s->uid = pw.pw_uid;
        s->gid = pw.pw_gid;
        snprintf(s->user, sizeof s->user, "%s", pw.pw_name);
        return 0;
    }
    return fail(s, -ENOENT, "running as root, but neither user 'postgres' nor 'nobody' exists "
                "to run PostgreSQL as");
}

/* --- directories ------------------------------------------------------------------ */

static int mkdir_p(const char *path, mode_t leaf_mode)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return -ENAMETOOLONG;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(buf, leaf_mode) != 0 && errno != EEXIST)
        return -errno;
    struct stat st;
    if (stat(buf, &st) != 0)
        return -errno;
    return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

/* A directory of ours that PostgreSQL's user must own (when we are root). */
static int make_owned_dir(struct start *s, const char *path)
{
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return fail(s, -errno, "cannot create %s: %s", path, strerror(errno));
    if (s->drop && chown(path, s->uid, s->gid) != 0)
        return fail(s, -errno, "cannot chown %s to %s: %s", path, s->user, strerror(errno));
    return 0;
}

static void drop_privileges(const struct start *s);

/* Fork a child that becomes PostgreSQL's user and tries to enter data_dir: the only
 * honest answer to "can it get there" (groups, ACLs, every parent directory). */
static bool user_can_reach(const struct start *s)
{
    pid_t pid = fork();
    if (pid < 0)
        return true;   /* cannot tell; PostgreSQL will say so itself */
    if (pid == 0) {
        drop_privileges(s);
        _exit(access(s->dir, X_OK) == 0 ? 0 : 1);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return true;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static int prepare_dirs(struct start *s)
{
    const char *dd = s->opts->data_dir;
    int rc = mkdir_p(dd, 0700);
    if (rc < 0)
        return fail(s, rc, "cannot create data directory %s: %s", dd, strerror(-rc));
    if (!realpath(dd, s->dir))
        return fail(s, -errno, "cannot resolve data directory %s: %s", dd, strerror(errno));
    /* libpq and the server both need "<dir>/run/.s.PGSQL.<port>.lock" to fit sun_path. */
    if (strlen(s->dir) + sizeof "/run/.s.PGSQL.65535.lock" > sizeof ((struct sockaddr_un *)0)->sun_path)
        return fail(s, -ENAMETOOLONG, "data directory %s is too long a path for PostgreSQL's unix "
                    "socket; use a shorter --data-dir", s->dir);
    pathf(s->pgdata, sizeof s->pgdata, "%s/pg", s->dir);
    pathf(s->sockdir, sizeof s->sockdir, "%s/run", s->dir);

    if (s->drop) {
        /* Let PostgreSQL's user pass through data_dir (not list it), then check that the
         * parents let it too: /root/... typically does not. */
        struct stat st;
        if (stat(s->dir, &st) != 0 || chmod(s->dir, (st.st_mode & 07777) | 0011) != 0)
            return fail(s, -errno, "cannot make %s traversable: %s", s->dir, strerror(errno));
        if (!user_can_reach(s))
            return fail(s, -EACCES, "PostgreSQL must run as user '%s' (we are root), which cannot "
                        "reach %s: a parent directory is not searchable; use a --data-dir "
                        "elsewhere (e.g. under /var/lib)", s->user, s->dir);
        if (stat(s->pgdata, &st) == 0 && st.st_uid != s->uid) {
            char buf[4096];
            struct passwd pw, *owner = NULL;
            getpwuid_r(st.st_uid, &pw, buf, sizeof buf, &owner);
            return fail(s, -EPERM, "%s belongs to user '%s' (uid %u), but PostgreSQL would run "
                        "as '%s'; run it as the owner or chown -R the directory", s->pgdata,
                        owner ? owner->pw_name : "?", (unsigned)st.st_uid, s->user);
        }
    }
    if ((rc = make_owned_dir(s, s->pgdata)) < 0 || (rc = make_owned_dir(s, s->sockdir)) < 0)
        return rc;

    char logpath[PATH_MAX + 16];
    pathf(logpath, sizeof logpath, "%s/pg.log", s->dir);
    s->logfd = open(logpath, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);   /* read: log_tail */
    if (s->logfd < 0)
        return fail(s, -errno, "cannot open %s: %s", logpath, strerror(errno));
    s->log_start = lseek(s->logfd, 0, SEEK_END);
    s->nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (s->nullfd < 0)
        return fail(s, -errno, "cannot open /dev/null: %s", strerror(errno));
    return 0;
}

/* --- lock files ------------------------------------------------------------------- */

/* Is pid a live PostgreSQL process? A pid from an old lock file may have been reused by
 * an unrelated process since a crash or reboot; its name tells them apart. */
static bool is_live_postgres(pid_t pid)
{
    if (kill(pid, 0) != 0 && errno == ESRCH)
        return false;
    char path[64], comm[32] = "";
    snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return true;   /* no /proc: believe the process is what the lock file says */
    bool pg = fgets(comm, sizeof comm, f) && strncmp(comm, "postgres", 8) == 0;
    fclose(f);
    return pg;
}

/* postmaster.pid and the socket's lock file both begin with the owner's pid (negative
 * for a single-user backend). A live owner means another server uses this directory;
 * a dead one leaves a file PostgreSQL might refuse to overwrite if the pid is reused. */
static int clear_stale_lock(struct start *s, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return errno == ENOENT ? 0 : fail(s, -errno, "cannot read %s: %s", path, strerror(errno));
    long pid = 0;
    int n = fscanf(f, "%ld", &pid);
    fclose(f);
    if (pid < 0)
        pid = -pid;
    if (n == 1 && pid > 0 && is_live_postgres((pid_t)pid))
        return fail(s, -EBUSY, "a PostgreSQL server (pid %ld) is already running in %s; is "
                    "another todod using this data directory?", pid, s->dir);
    if (unlink(path) != 0 && errno != ENOENT)
        return fail(s, -errno, "cannot remove stale %s: %s", path, strerror(errno));
    if (s->opts->log)
        td_log_info(s->opts->log, "removed stale PostgreSQL lock file %s", path);
    return 0;
}

/* --- child processes -------------------------------------------------------------- */

/* In the child after fork, only async-signal-safe calls until exec. Its stderr is
 * pg.log by then, so the reason shows up in the error tail. */
static void child_die(const char *msg)
{
    ssize_t ignored = write(2, msg, strlen(msg));
    (void)ignored;
    _exit(127);
}

static void drop_privileges(const struct start *s)
{
    if (s->drop && (setgroups(1, &s->gid) != 0 || setgid(s->gid) != 0 || setuid(s->uid) != 0))
        child_die("todod: cannot switch to PostgreSQL's user\n");
}

static void child_exec(const struct start *s, char *const argv[])
{
    setsid();   /* own session: a Ctrl-C meant for todod must not stop the database first */
    if (dup2(s->nullfd, 0) < 0 || dup2(s->logfd, 1) < 0 || dup2(s->logfd, 2) < 0)
        child_die("todod: cannot redirect PostgreSQL's output\n");
    drop_privileges(s);
#ifdef __linux__
    /* Die with todod, so a crashed todod does not leave a server holding the data
     * directory. Set after setuid, which clears it; then close the fork-to-here race. */
    prctl(PR_SET_PDEATHSIG, SIGINT);
    if (getppid() != s->parent)
        _exit(127);
#endif
    if (chdir(s->pgdata) != 0)   /* a cwd the user can read: PostgreSQL looks at its own */
        child_die("todod: cannot enter the PostgreSQL data directory\n");
#ifdef SYS_close_range
    if (syscall(SYS_close_range, 3U, ~0U, 0U) != 0)
#endif
        for (int fd = 3; fd < 1024; fd++)
            close(fd);
    /* Whatever todod blocked or ignored is not PostgreSQL's business. */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    for (int sig = 1; sig < NSIG; sig++)
        sigaction(sig, &dfl, NULL);
    execv(argv[0], argv);
    child_die("todod: cannot execute the PostgreSQL binary\n");
}

static int spawn(struct start *s, char *const argv[], pid_t *out)
{
    pid_t pid = fork();
    if (pid < 0)
        return fail(s, -errno, "cannot fork: %s", strerror(errno));
    if (pid == 0)
        child_exec(s, argv);
    *out = pid;
    return 0;
}

/* waitpid has no timeout, so poll; 10 ms steps are plenty for start and stop. */
static int wait_exit(pid_t pid, int timeout_ms, int *status)
{
    long long deadline = now_ms() + timeout_ms;
    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid)
            return 0;
        if (r < 0 && errno == ECHILD && kill(pid, 0) != 0 && errno == ESRCH) {
            *status = 0;   /* reaped by someone else (SIGCHLD ignored): gone all the same */
            return 0;
        }
        if (now_ms() >= deadline)
            return -ETIMEDOUT;
        sleep_ms(10);
    }
}

static void describe_status(int status, char *out, size_t n)
{
    if (WIFEXITED(status))
        snprintf(out, n, "exit status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(out, n, "signal %d", WTERMSIG(status));
    else
        snprintf(out, n, "status %d", status);
}

/* SIGINT is PostgreSQL's fast shutdown: roll back sessions, checkpoint, exit. If that
 * hangs, SIGQUIT (immediate: crash recovery on next start, committed data stays safe),
 * then SIGKILL. */
static int stop_postmaster(pid_t pid, const struct td_log *log)
{
    int status;
    kill(pid, SIGINT);
    if (wait_exit(pid, STOP_TIMEOUT_MS, &status) == 0)
        return 0;
    if (log)
        td_log_warn(log, "PostgreSQL (pid %d) ignored fast shutdown for %d s; sending SIGQUIT",
                    (int)pid, STOP_TIMEOUT_MS / 1000);
    kill(pid, SIGQUIT);
    if (wait_exit(pid, KILL_TIMEOUT_MS, &status) != 0) {
        kill(pid, SIGKILL);
        wait_exit(pid, KILL_TIMEOUT_MS, &status);
    }
    return -ETIMEDOUT;
}

/* --- the cluster ------------------------------------------------------------------ */

static bool cluster_exists(const struct start *s)
{
    char path[PATH_MAX + 16];
    pathf(path, sizeof path, "%s/PG_VERSION", s->pgdata);
    return access(path, F_OK) == 0;
}

static int run_initdb(struct start *s)
{
    char path[PATH_MAX + 16];
    pathf(path, sizeof path, "%s/initdb", s->bin);
    /* trust is safe here: no TCP, and the socket's directory admits only us. */
    char *argv[] = {path, "-D", s->pgdata, "--auth=trust", "-U", PG_USER, "--encoding=UTF8",
                    "--locale=C", "--no-instructions", NULL};
    pid_t pid = 0;
    int rc = spawn(s, argv, &pid), status;
    if (rc < 0)
        return rc;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return fail(s, -errno, "waiting for initdb: %s", strerror(errno));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char how[32], what[PATH_MAX + 64];
        describe_status(status, how, sizeof how);
        snprintf(what, sizeof what, "initdb of %s failed (%s)", s->pgdata, how);
        return fail_with_log(s, -EIO, what);
    }
    if (s->opts->log)
        td_log_info(s->opts->log, "created PostgreSQL cluster in %s", s->pgdata);
    return 0;
}

/* Single quotes make any path a valid conninfo value; ' and \ are backslash-escaped. */
static void make_conninfo(char *out, size_t n, const char *sockdir, int port, const char *db)
{
    size_t o = 0;
    o += (size_t)snprintf(out, n, "host='");
    for (const char *p = sockdir; *p && o + 3 < n; p++) {
        if (*p == '\'' || *p == '\\')
            out[o++] = '\\';
        out[o++] = *p;
    }
    snprintf(out + o, n - o, "' port=%d dbname=%s user=%s", port, db, PG_USER);
}

static int start_server(struct start *s, pid_t *out)
{
    char path[PATH_MAX + 16], port[16];
    pathf(path, sizeof path, "%s/postgres", s->bin);
    snprintf(port, sizeof port, "%d", s->port);
    /* Settings go on the command line, not into postgresql.conf: they are what embedding
     * needs, so every start (and every todod upgrade) applies them whatever the file says. */
    char *argv[] = {path, "-D", s->pgdata, "-k", s->sockdir, "-p", port,
                    "-c", "listen_addresses=",          /* unix socket only */
                    "-c", "shared_buffers=32MB",        /* a small install, not a dedicated box */
                    "-c", "max_connections=50",
                    "-c", "fsync=on",                   /* we promise tasks are never lost */
                    "-c", "synchronous_commit=on",
                    "-c", "full_page_writes=on",
                    NULL};
    return spawn(s, argv, out);
}

static int wait_ready(struct start *s, pid_t pid)
{
    char conninfo[PATH_MAX + 64];
    make_conninfo(conninfo, sizeof conninfo, s->sockdir, s->port, "postgres");
    long long deadline = now_ms() + START_TIMEOUT_MS;
    for (;;) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            char how[32], what[96];
            describe_status(status, how, sizeof how);
            snprintf(what, sizeof what, "PostgreSQL exited during start-up (%s)", how);
            return fail_with_log(s, -EIO, what);
        }
        if (PQping(conninfo) == PQPING_OK)
            return 0;
        if (now_ms() >= deadline) {
            stop_postmaster(pid, s->opts->log);
            return fail_with_log(s, -ETIMEDOUT, "PostgreSQL did not accept connections within 30 s");
        }
        sleep_ms(20);
    }
}

/* Checked on every start, not only after initdb: a run that died between initdb and
 * CREATE DATABASE must not leave a cluster without our database. */
static int ensure_database(struct start *s)
{
    char conninfo[PATH_MAX + 64];
    make_conninfo(conninfo, sizeof conninfo, s->sockdir, s->port, "postgres");
    PGconn *conn = PQconnectdb(conninfo);
    int rc = 0;
    if (PQstatus(conn) != CONNECTION_OK) {
        rc = fail(s, -ECONNREFUSED, "cannot connect to PostgreSQL in %s: %s", s->dir,
                  PQerrorMessage(conn));
    } else {
        PGresult *r = PQexec(conn, "SELECT 1 FROM pg_database WHERE datname = '" PG_DATABASE "'");
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 0) {
            PQclear(r);
            r = PQexec(conn, "CREATE DATABASE " PG_DATABASE);
            if (PQresultStatus(r) == PGRES_COMMAND_OK && s->opts->log)
                td_log_info(s->opts->log, "created database " PG_DATABASE);
        }
        ExecStatusType st = PQresultStatus(r);
        if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
            rc = fail(s, -EIO, "cannot create database " PG_DATABASE ": %s", PQresultErrorMessage(r));
        PQclear(r);
    }
    PQfinish(conn);
    return rc;
}

int td_pgembed_start(const struct td_pgembed_opts *opts, struct td_pgembed **out,
                     char *err, size_t errlen)
{
    struct start *s = calloc(1, sizeof *s);   /* ~20 KiB of paths: keep them off the stack */
    if (!s)
        return -ENOMEM;
    s->opts = opts;
    s->err = err;
    s->errlen = errlen;
    s->port = opts->port > 0 ? opts->port : 5432;
    s->parent = getpid();
    s->logfd = s->nullfd = -1;
    *out = NULL;
    if (err && errlen)
        err[0] = '\0';

    pid_t pid = 0;
    struct td_pgembed *pg = NULL;
    char lock[PATH_MAX + 32];
    int rc;
    if (!opts->data_dir || !*opts->data_dir) {
        rc = fail(s, -EINVAL, "no data directory given for the embedded PostgreSQL");
        goto done;
    }
    if (opts->port < 0 || opts->port > 65535) {
        rc = fail(s, -EINVAL, "port %d for the embedded PostgreSQL is out of range", opts->port);
        goto done;
    }
    if ((rc = find_bin_dir(s)) < 0 || (rc = pick_user(s)) < 0 || (rc = prepare_dirs(s)) < 0)
        goto done;
    if (!cluster_exists(s) && (rc = run_initdb(s)) < 0)
        goto done;
    pathf(lock, sizeof lock, "%s/postmaster.pid", s->pgdata);
    if ((rc = clear_stale_lock(s, lock)) < 0)
        goto done;
    pathf(lock, sizeof lock, "%s/.s.PGSQL.%d.lock", s->sockdir, s->port);
    if ((rc = clear_stale_lock(s, lock)) < 0)
        goto done;
    if ((rc = start_server(s, &pid)) < 0)
        goto done;
    if ((rc = wait_ready(s, pid)) < 0) {
        pid = 0;   /* wait_ready reaped or stopped it */
        goto done;
    }
    if ((rc = ensure_database(s)) < 0)
        goto done;
    if (!(pg = calloc(1, sizeof *pg))) {
        rc = fail(s, -ENOMEM, "out of memory");
        goto done;
    }
    pg->pid = pid;
    pg->log = opts->log;
    make_conninfo(pg->conninfo, sizeof pg->conninfo, s->sockdir, s->port, PG_DATABASE);
    if (opts->log)
        td_log_info(opts->log, "PostgreSQL ready (pid %d, data in %s%s%s)", (int)pid, s->pgdata,
                    s->drop ? ", running as " : "", s->drop ? s->user : "");
    *out = pg;
    pid = 0;
done:
    if (pid > 0)
        stop_postmaster(pid, opts->log);
    if (s->logfd >= 0)
        close(s->logfd);
    if (s->nullfd >= 0)
        close(s->nullfd);
    free(s);
    return rc;
}

const char *td_pgembed_conninfo(const struct td_pgembed *pg)
{
    return pg->conninfo;
}

int td_pgembed_pid(const struct td_pgembed *pg)
{
    return (int)pg->pid;
}

int td_pgembed_stop(struct td_pgembed *pg)
{
    if (!pg)
        return 0;
    int rc = stop_postmaster(pg->pid, pg->log);
    if (pg->log)
        td_log_info(pg->log, "PostgreSQL stopped");
    free(pg);
    return rc;
}
