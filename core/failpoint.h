/* Faults injected by tests into paths that are hard to make fail from outside (a role's
 * init half-way). TODOD_FAILPOINTS holds comma-separated point names. */
#ifndef TD_FAILPOINT_H
#define TD_FAILPOINT_H

/* -EFAULT when TODOD_FAILPOINTS names point ("audit.init"), else 0. Costs a getenv and a
 * scan: use it only on paths that run once, such as start-up. */
int td_failpoint(const char *point);

#endif
