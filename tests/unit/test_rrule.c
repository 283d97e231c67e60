/* core/rrule.c: which RRULEs are accepted, the reasons given for the rest, and the
 * prefix the stored form drops. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/rrule.h"

TestSuite(rrule);

Test(rrule, valid_and_invalid)
{
    char why[96];
    static const char *const good[] = {
        "FREQ=DAILY;INTERVAL=2", "FREQ=MONTHLY;BYMONTHDAY=31", "RRULE:FREQ=WEEKLY;BYDAY=MO,WE",
        "FREQ=DAILY;COUNT=5", "FREQ=WEEKLY;UNTIL=20270101T000000Z", "rrule:FREQ=YEARLY",
    };
    static const char *const poor[] = {
        "FREQ=SOMETIMES", "", "hello", "RRULE:", "FREQ=DAILY;INTERVAL=0", "FREQ=DAILY;BYDAY=XX",
        "FREQ=DAILY;COUNT=2;UNTIL=20270101T000000Z", "FREQ=YEARLY;RSCALE=GREGORIAN",
        "FREQ=YEARLY;rscale=gregorian",
        "FREQ=WEEKLY;BYMONTHDAY=3", /* parses, but the expander refuses it */
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        cr_expect_eq(td_rrule_validate(good[i], why, sizeof why), 0, "%s: %s", good[i], why);
    for (size_t i = 0; i < sizeof poor / sizeof poor[0]; i++) {
        why[0] = '\0';
        cr_expect_eq(td_rrule_validate(poor[i], why, sizeof why), -EINVAL, "%s", poor[i]);
        cr_expect_neq(why[0], '\0', "%s: no reason", poor[i]);
    }
    cr_expect_eq(td_rrule_validate(NULL, NULL, 0), -EINVAL);
    cr_expect_eq(td_rrule_validate("hello", NULL, 0), -EINVAL, "no room for a reason is fine");
}

Test(rrule, reasons_say_what_is_wrong)
{
    char why[96];
    cr_assert_eq(td_rrule_validate("RRULE:", why, sizeof why), -EINVAL);
    cr_expect_str_eq(why, "is empty");
    cr_assert_eq(td_rrule_validate("FREQ=SOMETIMES", why, sizeof why), -EINVAL);
    cr_expect(strstr(why, "not a valid RRULE"), "%s", why);
    cr_assert_eq(td_rrule_validate("FREQ=WEEKLY;BYMONTHDAY=3", why, sizeof why), -EINVAL);
    cr_expect_str_eq(why, "cannot be expanded");
    cr_assert_eq(td_rrule_validate("FREQ=YEARLY;RSCALE=HEBREW", why, sizeof why), -EINVAL);
    cr_expect_str_eq(why, "RSCALE is not supported");
    char small[8];
    cr_assert_eq(td_rrule_validate("hello", small, sizeof small), -EINVAL);
    cr_expect_eq(strlen(small), sizeof small - 1, "cut to the buffer, terminated");
}

Test(rrule, length_is_bounded)
{
    /* "FREQ=DAILY;INTERVAL=00...01" exactly at the limit, then one digit longer. */
    char rule[TD_RRULE_MAX + 2], why[96] = "";
    size_t head = strlen("FREQ=DAILY;INTERVAL=");
    memcpy(rule, "FREQ=DAILY;INTERVAL=", head);
    memset(rule + head, '0', TD_RRULE_MAX - head - 1);
    strcpy(rule + TD_RRULE_MAX - 1, "1");
    cr_assert_eq(strlen(rule), TD_RRULE_MAX);
    td_rrule_validate(rule, why, sizeof why);
    cr_expect_null(strstr(why, "longer"), "at the limit the length is not the problem: %s", why);
    memmove(rule + head + 1, rule + head, TD_RRULE_MAX - head + 1);
    cr_assert_eq(strlen(rule), TD_RRULE_MAX + 1);
    cr_assert_eq(td_rrule_validate(rule, why, sizeof why), -EINVAL);
    cr_expect_str_eq(why, "is longer than 1000 characters");
    /* The prefix does not count: "RRULE:" and the rule at the limit again. */
    char prefixed[TD_RRULE_MAX + 8];
    snprintf(prefixed, sizeof prefixed, "RRULE:FREQ=DAILY;INTERVAL=%s", rule + head + 1);
    cr_assert_eq(strlen(prefixed), TD_RRULE_MAX + 6);
    why[0] = '\0';
    td_rrule_validate(prefixed, why, sizeof why);
    cr_expect_null(strstr(why, "longer"), "%s", why);
}

Test(rrule, strip_prefix)
{
    cr_expect_str_eq(td_rrule_strip_prefix("RRULE:FREQ=DAILY"), "FREQ=DAILY");
    cr_expect_str_eq(td_rrule_strip_prefix("rRuLe:FREQ=DAILY"), "FREQ=DAILY");
    cr_expect_str_eq(td_rrule_strip_prefix("FREQ=DAILY"), "FREQ=DAILY");
    cr_expect_str_eq(td_rrule_strip_prefix("RRULE"), "RRULE");
    cr_expect_str_eq(td_rrule_strip_prefix(""), "");
    cr_expect_null(td_rrule_strip_prefix(NULL));
}

Test(rrule, count_is_read_from_the_rule)
{
    cr_expect_eq(td_rrule_count("FREQ=DAILY;COUNT=3"), 3);
    cr_expect_eq(td_rrule_count("rrule:FREQ=WEEKLY;BYDAY=MO;COUNT=12"), 12);
    cr_expect_eq(td_rrule_count("RRULE:FREQ=WEEKLY"), 0);
    cr_expect_eq(td_rrule_count("FREQ=NEVER"), -EINVAL);
    cr_expect_eq(td_rrule_count(NULL), -EINVAL);
}
