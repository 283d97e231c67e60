/* core/trace.c: W3C Trace Context traceparent, random ids, UUIDv4. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/trace.h"

#define TRACE  "4bf92f3577b34da6a3ce929d0e0e4736"
#define PARENT "00f067aa0ba902b7"
#define VALID  "00-" TRACE "-" PARENT "-01"

static int is_lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

static int parse(const char *s, struct td_trace *t)
{
    return td_trace_from_header(s, strlen(s), t);
}

Test(trace, valid_header_keeps_trace_and_makes_new_span)
{
    struct td_trace t;
    memset(&t, 0x55, sizeof t);
    cr_assert_eq(parse(VALID, &t), 0);
    cr_assert_str_eq(t.trace_id, TRACE);
    cr_assert_str_eq(t.parent_id, PARENT);
    cr_assert_eq(strlen(t.span_id), 16);
    cr_assert(is_lower_hex(t.span_id, 16));
    cr_assert_str_neq(t.span_id, PARENT, "this hop needs its own span");
    cr_assert_str_neq(t.span_id, "0000000000000000");
    cr_assert_eq(t.flags, 0x01);
}

Test(trace, unsampled_flag_kept)
{
    struct td_trace t;
    cr_assert_eq(parse("00-" TRACE "-" PARENT "-00", &t), 0);
    cr_assert_eq(t.flags, 0);
    /* Unknown flag bits are not propagated, only "sampled". */
    cr_assert_eq(parse("00-" TRACE "-" PARENT "-ff", &t), 0);
    cr_assert_eq(t.flags, 0x01);
}

Test(trace, two_parses_of_one_header_give_different_spans)
{
    struct td_trace a, b;
    cr_assert_eq(parse(VALID, &a), 0);
    cr_assert_eq(parse(VALID, &b), 0);
    cr_assert_str_eq(a.trace_id, b.trace_id);
    cr_assert_str_neq(a.span_id, b.span_id);
}

Test(trace, len_argument_is_respected)
{
    struct td_trace t;
    /* The header inside a larger buffer: only len bytes count. */
    const char *buf = VALID "garbage";
    cr_assert_eq(td_trace_from_header(buf, 55, &t), 0);
    cr_assert_str_eq(t.trace_id, TRACE);
}

/* Found by fuzz/fuzz_trace.c: the flags were read with sscanf, which runs strlen over a
 * value that need not be NUL-terminated. The header here ends at the last byte before a
 * page that cannot be read: any read past len faults. */
Test(trace, reads_only_len_bytes_at_the_end_of_a_page)
{
    long page = sysconf(_SC_PAGESIZE);
    char *m = mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
    cr_assert_neq(m, MAP_FAILED);
    cr_assert_eq(mprotect(m + page, (size_t)page, PROT_NONE), 0);
    static const char *const headers[] = {VALID, "00-" TRACE "-" PARENT "-00",
                                          "00-" TRACE "-" PARENT "-0f"};
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
        char *v = m + page - 55;
        memcpy(v, headers[i], 55);
        struct td_trace t;
        cr_assert_eq(td_trace_from_header(v, 55, &t), 0, "%s", headers[i]);
        cr_assert_str_eq(t.trace_id, TRACE);
        cr_assert_eq(t.flags, headers[i][54] == '0' ? 0 : 1);
    }
    munmap(m, (size_t)page * 2);
}

static void assert_rejected(const char *value)
{
    struct td_trace t;
    cr_assert_eq(parse(value, &t), -EINVAL, "accepted \"%s\"", value);
}

Test(trace, wrong_lengths_rejected)
{
    assert_rejected("");
    assert_rejected("00");
    assert_rejected("00-" TRACE "-" PARENT "-0");                 /* 54 */
    assert_rejected("00-" TRACE "0-" PARENT "-01");               /* trace 33 */
    assert_rejected("00-4bf92f3577b34da6a3ce929d0e0e473-" PARENT "-01");   /* trace 31 */
    assert_rejected("00-" TRACE "-00f067aa0ba902b-01");            /* parent 15 */
}

Test(trace, uppercase_hex_rejected)
{
    assert_rejected("00-4BF92F3577B34DA6A3CE929D0E0E4736-" PARENT "-01");
    assert_rejected("00-" TRACE "-00F067AA0BA902B7-01");
    assert_rejected("0A-" TRACE "-" PARENT "-01");
    assert_rejected("00-" TRACE "-" PARENT "-0A");
}

Test(trace, non_hex_and_bad_separators_rejected)
{
    assert_rejected("00-4bf92f3577b34da6a3ce929d0e0e473g-" PARENT "-01");
    assert_rejected("00_" TRACE "-" PARENT "-01");
    assert_rejected("00-" TRACE "_" PARENT "-01");
    assert_rejected("00-" TRACE "-" PARENT "_01");
    assert_rejected("00-" TRACE "-" PARENT "-0x");
    assert_rejected("zz-" TRACE "-" PARENT "-01");
}

Test(trace, all_zero_ids_rejected)
{
    assert_rejected("00-00000000000000000000000000000000-" PARENT "-01");
    assert_rejected("00-" TRACE "-0000000000000000-01");
}

Test(trace, version_ff_rejected)
{
    assert_rejected("ff-" TRACE "-" PARENT "-01");
    assert_rejected("ff-" TRACE "-" PARENT "-01-extra");
}

Test(trace, version_00_with_extra_data_rejected)
{
    assert_rejected(VALID "-extra");
    assert_rejected(VALID "x");
    assert_rejected(VALID "-");
}

Test(trace, future_version_read_leniently)
{
    struct td_trace t;
    cr_assert_eq(parse("01-" TRACE "-" PARENT "-01", &t), 0);
    cr_assert_str_eq(t.trace_id, TRACE);
    cr_assert_eq(parse("cc-" TRACE "-" PARENT "-01-what-the-future-holds", &t), 0);
    cr_assert_str_eq(t.trace_id, TRACE);
    cr_assert_str_eq(t.parent_id, PARENT);
    /* ...but what follows the flags must start with "-". */
    assert_rejected("cc-" TRACE "-" PARENT "-01x");
    /* and the known fields still obey the rules */
    assert_rejected("cc-00000000000000000000000000000000-" PARENT "-01-x");
}

Test(trace, new_trace_shape)
{
    struct td_trace t;
    td_trace_new(&t);
    cr_assert_eq(strlen(t.trace_id), 32);
    cr_assert(is_lower_hex(t.trace_id, 32));
    cr_assert_eq(strlen(t.span_id), 16);
    cr_assert(is_lower_hex(t.span_id, 16));
    cr_assert_str_eq(t.parent_id, "");
    cr_assert_eq(t.flags, 0x01);
    struct td_trace u;
    td_trace_new(&u);
    cr_assert_str_neq(t.trace_id, u.trace_id);
    cr_assert_str_neq(t.span_id, u.span_id);
}

Test(trace, format_roundtrips_through_parse)
{
    struct td_trace t, back;
    td_trace_new(&t);
    char out[56];
    memset(out, 'x', sizeof out);
    td_trace_format(&t, out);
    cr_assert_eq(strlen(out), 55, "%s", out);
    cr_assert_eq(strncmp(out, "00-", 3), 0);
    cr_assert_eq(strncmp(out + 3, t.trace_id, 32), 0);
    cr_assert_eq(strncmp(out + 36, t.span_id, 16), 0);
    cr_assert_str_eq(out + 52, "-01");
    cr_assert_eq(parse(out, &back), 0, "own output must parse: %s", out);
    cr_assert_str_eq(back.trace_id, t.trace_id);
    cr_assert_str_eq(back.parent_id, t.span_id);

    t.flags = 0;
    td_trace_format(&t, out);
    cr_assert_str_eq(out + 52, "-00");
}

Test(trace, random_hex_length_and_alphabet)
{
    char out[129];
    for (size_t n = 0; n <= 64; n += 8) {
        memset(out, 'Z', sizeof out);
        td_random_hex(out, n);
        cr_assert_eq(strlen(out), 2 * n);
        cr_assert(is_lower_hex(out, 2 * n));
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

Test(trace, uuid_v4_shape_and_uniqueness)
{
    enum { N = 10000 };
    char (*ids)[37] = malloc(N * sizeof *ids);
    static const char variants[] = "89ab";
    int variant_seen[4] = {0};
    for (int i = 0; i < N; i++) {
        char *u = ids[i];
        td_uuid_v4(u);
        cr_assert_eq(strlen(u), 36, "%s", u);
        cr_assert(u[8] == '-' && u[13] == '-' && u[18] == '-' && u[23] == '-', "%s", u);
        cr_assert(is_lower_hex(u, 8) && is_lower_hex(u + 9, 4) && is_lower_hex(u + 14, 4) &&
                  is_lower_hex(u + 19, 4) && is_lower_hex(u + 24, 12), "%s", u);
        cr_assert_eq(u[14], '4', "version nibble in %s", u);
        const char *v = strchr(variants, u[19]);
        cr_assert_not_null(v, "variant nibble in %s", u);
        variant_seen[v - variants]++;
    }
    for (int i = 0; i < 4; i++)
        cr_assert_gt(variant_seen[i], 0, "variant %c never produced", variants[i]);
    qsort(ids, N, sizeof *ids, cmp_str);
    for (int i = 1; i < N; i++)
        cr_assert_str_neq(ids[i - 1], ids[i], "duplicate uuid %s", ids[i]);
    free(ids);
}
