/* The recur role (`todod recur`): consumes task-events; when a recurring task is
 * completed it creates the next occurrence of its series, exactly once
 * (proto/sql/0007_recurrence_series.sql, todod_recur_next). */
#ifndef TD_ROLE_RECUR_H
#define TD_ROLE_RECUR_H
#include <jansson.h>
#include "core/consume.h"
#include "core/svc.h"

#define RECUR_GROUP "todod-recur"

struct recur_call;

struct recur {
    struct td_svc     *svc;
    struct td_consume  calls;    /* statements in flight (core/consume.h) */
};

struct td_bus_msg;
/* What a task event asks of the recur role, decided from the event alone. */
enum recur_verdict {
    RECUR_IGNORE,      /* not a completion, or the task does not recur */
    RECUR_NEXT,        /* *next is the next occurrence's due time */
    RECUR_EXHAUSTED,   /* COUNT or UNTIL reached: the series ends */
    RECUR_BAD,         /* malformed: why says how */
};
/* Parses the event (a CloudEvents JSON text) and computes, at the completion time it
 * carries, the next due time with core/series.h. *root is the parsed event (the caller
 * json_decref's it; NULL on RECUR_BAD for text that is not JSON). */
enum recur_verdict recur_decide(const char *json, size_t len, json_t **root, long long *next,
                                char *why, size_t whylen);

#endif
