/* Helpers for the event backbone's tests: bursts of task events written straight into
 * PostgreSQL (the same todod_emit the api uses), waiting for the audit log to catch up,
 * and checks that every event arrived exactly once and in per-user order. */
#ifndef TD_TEST_EVENT_HARNESS_H
#define TD_TEST_EVENT_HARNESS_H
#include "tests/support/pg_harness.h"

/* A new task for each user "<prefix>-<n>" (n = 1..users) and per_user "updated" events for each,
 * interleaved across users, committed in one transaction, with a NOTIFY for the relay.
 * Returns the number of events written. */
long td_test_emit_burst(struct td_test_pg *pg, const char *prefix, int users, int per_user);
/* Polls (every 50 ms) until the query's first value reaches want or timeout_ms passes;
 * returns the last value. */
long td_test_wait_count(struct td_test_pg *pg, long want, int timeout_ms, const char *sql);
/* Audit records of users "<prefix>-*"; records whose event is not in the outbox; events of
 * those users in the outbox with no record; records out of outbox order within a user. */
long td_test_audit_count(struct td_test_pg *pg, const char *prefix);
long td_test_audit_missing(struct td_test_pg *pg, const char *prefix);
long td_test_audit_misordered(struct td_test_pg *pg, const char *prefix);

#endif
