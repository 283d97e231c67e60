/* Driving a uv loop from a test (see loop_harness.h). */
#include "tests/support/loop_harness.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>
#endif

double td_test_now_ms(void)
{
    return (double)uv_hrtime() / 1e6;
}

int td_test_run_until(uv_loop_t *loop, const int *flag, int want, int ms)
{
    double end = td_test_now_ms() + ms;
    while (*flag < want && td_test_now_ms() < end)
        uv_run(loop, UV_RUN_ONCE);
    return *flag >= want;
}

void td_test_run_for(uv_loop_t *loop, int ms)
{
    double end = td_test_now_ms() + ms;
    while (td_test_now_ms() < end)
        uv_run(loop, UV_RUN_ONCE);
}

double td_test_metric(struct td_metrics *m, const char *series)
{
    struct td_buf b = {0};
    cr_assert(td_metrics_render(m, &b) == 0);
    double v = -1;
    size_t n = strlen(series);
    for (const char *p = b.data; p && *p;) {
        if (strncmp(p, series, n) == 0 && p[n] == ' ') {
            v = strtod(p + n + 1, NULL);
            break;
        }
        const char *nl = strchr(p, '\n');
        p = nl ? nl + 1 : NULL;
    }
    td_buf_free(&b);
    return v;
}

void td_test_assert_no_leaks(void)
{
#ifdef __SANITIZE_ADDRESS__
    cr_assert_eq(__lsan_do_recoverable_leak_check(), 0, "LeakSanitizer found leaks (see stderr)");
#endif
}
