/* Driving a uv loop from a test, reading a metric, and asking LeakSanitizer for a check (criterion's workers
 * never reach its exit-time one). */
#ifndef TD_TEST_LOOP_HARNESS_H
#define TD_TEST_LOOP_HARNESS_H
#include <uv.h>
#include "core/metrics.h"

double td_test_now_ms(void);
/* Runs the loop until *flag reaches want or ms pass; returns 1 when it did. */
int  td_test_run_until(uv_loop_t *loop, const int *flag, int want, int ms);
/* Runs the loop for ms. */
void td_test_run_for(uv_loop_t *loop, int ms);
/* The value of one series ("name{labels}") in the rendered registry; -1 when absent. */
double td_test_metric(struct td_metrics *m, const char *series);
/* Asserts LeakSanitizer finds no leaks now (a no-op without ASan). */
void td_test_assert_no_leaks(void);

#endif
