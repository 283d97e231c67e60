/* A Kafka-protocol broker for tests: the librdkafka mock cluster in its own process
 * (tests/support/mock_kafka.c, path in $TODOD_MOCK_KAFKA), which the test can take down
 * and bring back; and a consumer to read a topic from the test. */
#ifndef TD_TEST_KAFKA_HARNESS_H
#define TD_TEST_KAFKA_HARNESS_H
#include <stdio.h>
#include <sys/types.h>

struct td_test_kafka {
    pid_t pid;
    FILE *in, *out;          /* its stdin (commands) and stdout (answers) */
    char  bootstraps[256];
};

/* topics: NULL-terminated "NAME:PARTITIONS". Asserts on failure. */
void td_test_kafka_start(struct td_test_kafka *k, const char *const *topics);
/* "down" or "up"; asserts the broker said ok. */
void td_test_kafka_cmd(struct td_test_kafka *k, const char *cmd);
void td_test_kafka_stop(struct td_test_kafka *k);
/* Reads topic from the beginning (a fresh consumer group) until a message carries header
 * `header`; copies its value into out and returns 0, or -1 after timeout_ms. */
int td_test_kafka_find_header(struct td_test_kafka *k, const char *topic, const char *header,
                              char *out, size_t outlen, int timeout_ms);

#endif
