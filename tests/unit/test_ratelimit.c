/* core/ratelimit.c: token buckets with explicit time (now_ms), so every refill is exact. */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/ratelimit.h"

static struct td_ratelimit *make(double rate, double burst, size_t max_keys)
{
    struct td_ratelimit *rl = NULL;
    cr_assert_eq(td_ratelimit_new(rate, burst, max_keys, &rl), 0);
    cr_assert_not_null(rl);
    return rl;
}

/* Takes n tokens at now, asserting each succeeds. */
static void drain(struct td_ratelimit *rl, const char *key, int n, uint64_t now)
{
    int retry = -1;
    for (int i = 0; i < n; i++) {
        cr_assert_eq(td_ratelimit_take(rl, key, now, &retry), 1, "%s take %d", key, i);
        cr_assert_eq(retry, 0);
    }
}

Test(ratelimit, bad_arguments)
{
    struct td_ratelimit *rl = (struct td_ratelimit *)1;
    cr_assert_eq(td_ratelimit_new(-1, 5, 10, &rl), -EINVAL);
    cr_assert_null(rl);
    cr_assert_eq(td_ratelimit_new(NAN, 5, 10, &rl), -EINVAL);
    cr_assert_eq(td_ratelimit_new(INFINITY, 5, 10, &rl), -EINVAL);
    cr_assert_eq(td_ratelimit_new(1, -5, 10, &rl), -EINVAL);
    cr_assert_eq(td_ratelimit_new(1, 5, 0, &rl), -EINVAL);
    cr_assert_eq(td_ratelimit_new(1, 5, 10, NULL), -EINVAL);
    td_ratelimit_free(NULL);
}

Test(ratelimit, burst_then_limited)
{
    struct td_ratelimit *rl = make(1, 3, 100);
    drain(rl, "u1", 3, 1000);
    int retry = 0;
    cr_assert_eq(td_ratelimit_take(rl, "u1", 1000, &retry), 0);
    cr_assert_geq(retry, 1);
    cr_assert_eq(retry, 1, "1 token/s: back within a second");
    cr_assert_eq(td_ratelimit_take(rl, "u1", 1000, NULL), 0, "retry pointer is optional");
    td_ratelimit_free(rl);
}

Test(ratelimit, retry_after_follows_deficit)
{
    struct td_ratelimit *rl = make(0.5, 1, 100); /* one token every 2 s */
    drain(rl, "k", 1, 0);
    int retry = 0;
    cr_assert_eq(td_ratelimit_take(rl, "k", 0, &retry), 0);
    cr_assert_eq(retry, 2);
    cr_assert_eq(td_ratelimit_take(rl, "k", 1000, &retry), 0);
    cr_assert_eq(retry, 1, "half the deficit refilled");
    cr_assert_eq(td_ratelimit_take(rl, "k", 1999, &retry), 0);
    cr_assert_eq(retry, 1, "never less than 1");
    cr_assert_eq(td_ratelimit_take(rl, "k", 2000, &retry), 1);
    td_ratelimit_free(rl);

    /* Slow login limiter: 5 tries, then one per 12 s; waiting retry_after must work. */
    rl = make(1.0 / 12, 5, 100);
    drain(rl, "a@b", 5, 500);
    cr_assert_eq(td_ratelimit_take(rl, "a@b", 500, &retry), 0);
    cr_assert_eq(retry, 12);
    cr_assert_eq(td_ratelimit_take(rl, "a@b", 500 + 12000, &retry), 1);
    cr_assert_eq(td_ratelimit_take(rl, "a@b", 500 + 12000, &retry), 0);
    cr_assert_eq(retry, 12);
    td_ratelimit_free(rl);

    /* Rates whose refill is not exact in binary floating point: the token must still be
     * back at the announced time (1/49 in one step, 1/6 in two steps). */
    rl = make(1.0 / 49, 1, 100);
    drain(rl, "k", 1, 0);
    cr_assert_eq(td_ratelimit_take(rl, "k", 0, &retry), 0);
    cr_assert_eq(retry, 49);
    cr_assert_eq(td_ratelimit_take(rl, "k", 49000, &retry), 1);
    td_ratelimit_free(rl);
    rl = make(1.0 / 6, 1, 100);
    drain(rl, "k", 1, 0);
    cr_assert_eq(td_ratelimit_take(rl, "k", 1000, &retry), 0);
    cr_assert_eq(td_ratelimit_take(rl, "k", 6000, &retry), 1);
    td_ratelimit_free(rl);
}

Test(ratelimit, refills_over_time_up_to_burst)
{
    struct td_ratelimit *rl = make(10, 5, 100);
    drain(rl, "k", 5, 0);
    cr_assert_eq(td_ratelimit_take(rl, "k", 0, NULL), 0);
    cr_assert_eq(td_ratelimit_take(rl, "k", 100, NULL), 1, "100 ms at 10/s is one token");
    cr_assert_eq(td_ratelimit_take(rl, "k", 100, NULL), 0);
    /* An hour idle refills to burst, not beyond. */
    drain(rl, "k", 5, 3600 * 1000);
    cr_assert_eq(td_ratelimit_take(rl, "k", 3600 * 1000, NULL), 0);
    /* A clock going backwards neither refills nor breaks anything. */
    cr_assert_eq(td_ratelimit_take(rl, "k", 10, NULL), 0);
    cr_assert_eq(td_ratelimit_take(rl, "k", 3600 * 1000 + 100, NULL), 1);
    td_ratelimit_free(rl);
}

Test(ratelimit, keys_are_independent)
{
    struct td_ratelimit *rl = make(1, 2, 100);
    drain(rl, "alice", 2, 0);
    cr_assert_eq(td_ratelimit_take(rl, "alice", 0, NULL), 0);
    drain(rl, "bob", 2, 0);
    cr_assert_eq(td_ratelimit_take(rl, "bob", 0, NULL), 0);
    drain(rl, "alic", 2, 0); /* prefix is another key */
    drain(rl, "", 2, 0);
    cr_assert_eq(td_ratelimit_take(rl, "alice", 0, NULL), 0);
    td_ratelimit_free(rl);
}

Test(ratelimit, rate_zero_never_limits)
{
    struct td_ratelimit *rl = make(0, 0, 1);
    for (int i = 0; i < 1000; i++)
        drain(rl, "same", 1, 0);
    for (int i = 0; i < 10000; i++) {
        int retry = -1;
        char key[16];
        snprintf(key, sizeof key, "k%d", i % 3);
        cr_assert_eq(td_ratelimit_take(rl, key, 0, &retry), 1);
        cr_assert_eq(retry, 0);
    }
    td_ratelimit_reset(rl, "k0");
    td_ratelimit_free(rl);
}

Test(ratelimit, small_burst_still_allows_one)
{
    struct td_ratelimit *rl = make(0.2, 0.4, 10); /* burst < 1 is rounded up to 1 */
    drain(rl, "k", 1, 0);
    cr_assert_eq(td_ratelimit_take(rl, "k", 0, NULL), 0);
    td_ratelimit_free(rl);
}

Test(ratelimit, max_keys_evicts_least_recently_used)
{
    struct td_ratelimit *rl = make(1, 1, 3);
    drain(rl, "a", 1, 0);
    drain(rl, "b", 1, 0);
    drain(rl, "c", 1, 0);
    cr_assert_eq(td_ratelimit_take(rl, "a", 0, NULL), 0, "a is now most recent");
    drain(rl, "d", 1, 0); /* evicts b, the least recently used */
    cr_assert_eq(td_ratelimit_take(rl, "a", 0, NULL), 0, "a kept");
    cr_assert_eq(td_ratelimit_take(rl, "c", 0, NULL), 0, "c kept");
    cr_assert_eq(td_ratelimit_take(rl, "d", 0, NULL), 0, "d kept");
    cr_assert_eq(td_ratelimit_take(rl, "b", 0, NULL), 1, "b was forgotten: fresh bucket");
    td_ratelimit_free(rl);
}

Test(ratelimit, memory_stays_bounded_under_key_flood)
{
    struct td_ratelimit *rl = make(1, 1, 100);
    char key[32];
    /* 200k distinct keys through a 100-key limiter: the table grows to fit 100 and
     * recycles; ASan's leak check and the behaviour below show nothing accumulated. */
    for (int i = 0; i < 200000; i++) {
        snprintf(key, sizeof key, "flood-%d", i);
        cr_assert_eq(td_ratelimit_take(rl, key, 0, NULL), 1);
    }
    /* The last 100 are remembered, the 101st from the end is not. */
    for (int i = 200000 - 100; i < 200000; i++) {
        snprintf(key, sizeof key, "flood-%d", i);
        cr_assert_eq(td_ratelimit_take(rl, key, 0, NULL), 0, "%s", key);
    }
    cr_assert_eq(td_ratelimit_take(rl, "flood-199899", 0, NULL), 1);
    td_ratelimit_free(rl);
}

Test(ratelimit, long_keys)
{
    struct td_ratelimit *rl = make(1, 1, 10);
    char a[2000], b[2000];
    memset(a, 'x', sizeof a - 1);
    a[sizeof a - 1] = '\0';
    memcpy(b, a, sizeof b);
    b[0] = 'y';
    drain(rl, a, 1, 0);
    cr_assert_eq(td_ratelimit_take(rl, a, 0, NULL), 0);
    drain(rl, b, 1, 0);
    td_ratelimit_free(rl);
}

Test(ratelimit, reset_forgets_a_key)
{
    struct td_ratelimit *rl = make(1.0 / 12, 2, 10);
    drain(rl, "mail@example.com", 2, 0);
    drain(rl, "other", 2, 0);
    cr_assert_eq(td_ratelimit_take(rl, "mail@example.com", 0, NULL), 0);
    td_ratelimit_reset(rl, "mail@example.com");
    drain(rl, "mail@example.com", 2, 0);
    cr_assert_eq(td_ratelimit_take(rl, "other", 0, NULL), 0, "other keys untouched");
    td_ratelimit_reset(rl, "never-seen");
    td_ratelimit_reset(rl, NULL);
    td_ratelimit_free(rl);

    rl = make(1, 1, 10);
    td_ratelimit_reset(rl, "before-any-take");
    td_ratelimit_free(rl);
}
