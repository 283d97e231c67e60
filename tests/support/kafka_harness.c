/* The mock-cluster process and a test-side consumer (see kafka_harness.h). */
#include "tests/support/kafka_harness.h"

#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

void td_test_kafka_start(struct td_test_kafka *k, const char *const *topics)
{
    const char *bin = getenv("TODOD_MOCK_KAFKA");
    cr_assert(bin, "TODOD_MOCK_KAFKA is not set");
    int to_child[2], from_child[2];
    cr_assert_eq(pipe(to_child), 0);
    cr_assert_eq(pipe(from_child), 0);
    size_t n = 0;
    while (topics[n])
        n++;
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        dup2(to_child[0], 0);
        dup2(from_child[1], 1);
        close(to_child[1]);
        close(from_child[0]);
        char **argv = calloc(n + 2, sizeof *argv);
        argv[0] = (char *)bin;
        for (size_t i = 0; i < n; i++)
            argv[i + 1] = (char *)topics[i];
        execv(bin, argv);
        _exit(127);
    }
    close(to_child[0]);
    close(from_child[1]);
    k->pid = pid;
    k->in = fdopen(to_child[1], "w");
    k->out = fdopen(from_child[0], "r");
    cr_assert(fgets(k->bootstraps, sizeof k->bootstraps, k->out), "mock_kafka printed nothing");
    k->bootstraps[strcspn(k->bootstraps, "\r\n")] = '\0';
}

void td_test_kafka_cmd(struct td_test_kafka *k, const char *cmd)
{
    char line[256] = "";
    fprintf(k->in, "%s\n", cmd);
    fflush(k->in);
    cr_assert(fgets(line, sizeof line, k->out), "mock_kafka did not answer %s", cmd);
    cr_assert(strncmp(line, "ok", 2) == 0, "mock_kafka: %s: %s", cmd, line);
}

void td_test_kafka_stop(struct td_test_kafka *k)
{
    if (!k->pid)
        return;
    fprintf(k->in, "quit\n");
    fclose(k->in);
    fclose(k->out);
    int st;
    for (int i = 0; i < 100 && waitpid(k->pid, &st, WNOHANG) == 0; i++)
        usleep(50 * 1000);
    if (kill(k->pid, 0) == 0) {
        kill(k->pid, SIGKILL);
        waitpid(k->pid, &st, 0);
    }
    k->pid = 0;
}

int td_test_kafka_find_header(struct td_test_kafka *k, const char *topic, const char *header,
                              char *out, size_t outlen, int timeout_ms)
{
    char err[256], group[64];
    snprintf(group, sizeof group, "test-%d-%ld", (int)getpid(), (long)random());
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "bootstrap.servers", k->bootstraps, err, sizeof err);
    rd_kafka_conf_set(c, "group.id", group, err, sizeof err);
    rd_kafka_conf_set(c, "auto.offset.reset", "earliest", err, sizeof err);
    rd_kafka_conf_set(c, "session.timeout.ms", "6000", err, sizeof err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof err);
    cr_assert(rk, "%s", err);
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    int found = -1;
    for (int waited = 0; waited < timeout_ms && found; waited += 200) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        rd_kafka_headers_t *h;
        const void *v;
        size_t vlen;
        if (!m->err && rd_kafka_message_headers(m, &h) == 0 &&
            rd_kafka_header_get_last(h, header, &v, &vlen) == 0) {
            snprintf(out, outlen, "%.*s", (int)vlen, (const char *)v);
            found = 0;
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return found;
}
