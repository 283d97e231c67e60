/* mock_kafka: a one-broker librdkafka mock cluster in its own process, for tests.
 *
 *   mock_kafka [TOPIC:PARTITIONS]...
 *
 * Creates the topics (replication 1), prints the bootstrap servers as one line on stdout,
 * then reads commands from stdin, one a line, and answers each on stdout:
 *   down   the broker drops its connections and refuses new ones   -> "ok"
 *   up     the broker accepts connections again                    -> "ok"
 *   quit   (or EOF, SIGTERM, SIGINT) destroys the cluster, exits 0
 * Blank lines are ignored; anything else answers "error ...". Exits 2 on bad arguments,
 * 1 when the cluster cannot be made. Diagnostics go to stderr. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define BROKER_ID 1

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
}

/* Parses "NAME:PARTITIONS" in place; returns 0, or -EINVAL with a message on stderr. */
static int parse_topic(char *arg, const char **name, int *partitions)
{
    char *colon = strrchr(arg, ':'), *end;
    if (!colon || colon == arg) {
        fprintf(stderr, "mock_kafka: %s: expected TOPIC:PARTITIONS\n", arg);
        return -EINVAL;
    }
    errno = 0;
    long n = strtol(colon + 1, &end, 10);
    if (errno || end == colon + 1 || *end || n < 1 || n > 10000) {
        fprintf(stderr, "mock_kafka: %s: partitions must be 1 to 10000\n", arg);
        return -EINVAL;
    }
    *colon = '\0';
    *name = arg;
    *partitions = (int)n;
    return 0;
}

/* Answers one command: msg and an optional detail, on one line. */
static void reply(const char *msg, const char *detail)
{
    printf("%s%s\n", msg, detail ? detail : "");
    fflush(stdout);
}

/* Runs one command line; returns 1 to quit, else 0. */
static int command(rd_kafka_mock_cluster_t *mc, char *line)
{
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
        line[--n] = '\0';
    while (*line == ' ' || *line == '\t')
        line++;
    if (!*line)
        return 0;
    if (!strcmp(line, "quit"))
        return 1;
    rd_kafka_resp_err_t err;
    if (!strcmp(line, "down"))
        err = rd_kafka_mock_broker_set_down(mc, BROKER_ID);
    else if (!strcmp(line, "up"))
        err = rd_kafka_mock_broker_set_up(mc, BROKER_ID);
    else {
        reply("error unknown command: ", line);
        return 0;
    }
    if (err)
        reply("error ", rd_kafka_err2str(err));
    else
        reply("ok", NULL);
    return 0;
}

/* Reads stdin line by line until EOF, quit or a signal. SIGTERM and SIGINT are blocked
 * everywhere except inside pselect, so a signal always ends the wait. */
static void serve(rd_kafka_mock_cluster_t *mc, const sigset_t *waitmask)
{
    char buf[4096];
    size_t len = 0;
    for (;;) {
        if (stop_signal)
            return;
        fd_set rd;
        FD_ZERO(&rd);
        FD_SET(STDIN_FILENO, &rd);
        int r = pselect(STDIN_FILENO + 1, &rd, NULL, NULL, NULL, waitmask);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            perror("mock_kafka: pselect");
            return;
        }
        /* When stdin was ready, pselect returns without running the handler of a signal
         * that came meanwhile: it stays pending (blocked), so look for it here, or a
         * stream that is always readable would never let us stop. */
        sigset_t pending;
        if (!sigpending(&pending) && (sigismember(&pending, SIGTERM) ||
                                      sigismember(&pending, SIGINT) || sigismember(&pending, SIGHUP)))
            return;
        ssize_t got = read(STDIN_FILENO, buf + len, sizeof buf - 1 - len);
        if (got < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            perror("mock_kafka: read");
            return;
        }
        if (got == 0) {        /* EOF: a last line without a newline still counts */
            buf[len] = '\0';
            if (len)
                command(mc, buf);
            return;
        }
        len += (size_t)got;
        buf[len] = '\0';
        char *start = buf, *nl;
        while ((nl = memchr(start, '\n', len - (size_t)(start - buf)))) {
            *nl = '\0';
            if (command(mc, start))
                return;
            start = nl + 1;
        }
        len -= (size_t)(start - buf);
        memmove(buf, start, len);
        if (len == sizeof buf - 1) {
            reply("error line too long", NULL);
            len = 0;
        }
    }
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: %s [TOPIC:PARTITIONS]...\n"
                   "prints the bootstrap servers, then reads down|up|quit from stdin\n", argv[0]);
            return 0;
        }

    /* Block the stop signals before librdkafka starts its threads, which inherit the mask:
     * only pselect below ever takes them. */
    sigset_t stopset, waitmask;
    sigemptyset(&stopset);
    sigaddset(&stopset, SIGTERM);
    sigaddset(&stopset, SIGINT);
    sigaddset(&stopset, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &stopset, &waitmask);
    sigdelset(&waitmask, SIGTERM);
    sigdelset(&waitmask, SIGINT);
    sigdelset(&waitmask, SIGHUP);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);   /* a parent that stopped reading: write fails, we go on */

    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* The handle only hosts the cluster and never connects: log_level 4 keeps its notice
     * about the missing bootstrap.servers off stderr. */
    static const char *const props[][2] = {{"client.id", "todod-mock-kafka"}, {"log_level", "4"}};
    for (size_t i = 0; i < sizeof props / sizeof props[0]; i++)
        if (rd_kafka_conf_set(conf, props[i][0], props[i][1], errstr, sizeof errstr) !=
            RD_KAFKA_CONF_OK) {
            fprintf(stderr, "mock_kafka: %s\n", errstr);
            rd_kafka_conf_destroy(conf);
            return 1;
        }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {   /* conf is still ours on failure */
        fprintf(stderr, "mock_kafka: rd_kafka_new: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return 1;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, 1);
    if (!mc) {
        fprintf(stderr, "mock_kafka: cannot create the mock cluster\n");
        rd_kafka_destroy(rk);
        return 1;
    }

    int status = 0;
    for (int i = 1; i < argc && !status; i++) {
        const char *name;
        int partitions;
        if (parse_topic(argv[i], &name, &partitions)) {
            status = 2;
            break;
        }
        rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mc, name, partitions, 1);
        if (err) {
            fprintf(stderr, "mock_kafka: topic %s: %s\n", name, rd_kafka_err2str(err));
            status = 1;
        }
    }
    if (!status) {
        printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
        fflush(stdout);
        serve(mc, &waitmask);
    }

    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return status;
}
