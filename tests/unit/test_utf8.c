/* core/utf8.c: strict decoding, white space, spans with trimming, and copies that never
 * split a character. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "core/utf8.h"

Test(utf8, decodes_each_sequence_length)
{
    static const struct { const char *s; int len; uint32_t cp; } cases[] = {
        {"A", 1, 0x41},          {"\x7f", 1, 0x7F},        {"\xc2\x80", 2, 0x80},
        {"\xc3\xa9", 2, 0xE9},   {"\xe2\x82\xac", 3, 0x20AC}, {"\xef\xbf\xbf", 3, 0xFFFF},
        {"\xf0\x9f\x98\x80", 4, 0x1F600}, {"\xf4\x8f\xbf\xbf", 4, 0x10FFFF},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint32_t cp = 0;
        cr_expect_eq(td_utf8_decode(cases[i].s, strlen(cases[i].s), &cp), cases[i].len, "%zu", i);
        cr_expect_eq(cp, cases[i].cp, "%zu", i);
    }
    uint32_t cp;
    cr_expect_eq(td_utf8_decode("", 1, &cp), 1, "NUL decodes; scan is what refuses it");
    cr_expect_eq(cp, 0);
}

Test(utf8, refuses_invalid_sequences)
{
    static const char *const cases[] = {
        "\x80",             /* lone continuation byte */
        "\xff", "\xfe",     /* never valid */
        "\xc0\xaf",         /* overlong '/' */
        "\xc1\xbf",         /* overlong */
        "\xe0\x80\xaf",     /* overlong, three bytes */
        "\xf0\x80\x80\xaf", /* overlong, four bytes */
        "\xed\xa0\x80",     /* surrogate U+D800 */
        "\xed\xbf\xbf",     /* surrogate U+DFFF */
        "\xf4\x90\x80\x80", /* U+110000 */
        "\xf5\x80\x80\x80", /* lead byte past U+10FFFF */
        "\xc3\x28",         /* continuation missing */
        "\xe2\x82",         /* truncated */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint32_t cp;
        cr_expect_eq(td_utf8_decode(cases[i], strlen(cases[i]), &cp), -EILSEQ, "case %zu", i);
    }
    uint32_t cp;
    /* The bytes are there but len says they are not. */
    cr_expect_eq(td_utf8_decode("\xe2\x82\xac", 2, &cp), -EILSEQ);
    cr_expect_eq(td_utf8_decode("a", 0, &cp), -EINVAL);
    cr_expect_eq(td_utf8_decode(NULL, 1, &cp), -EINVAL);
    cr_expect_eq(td_utf8_decode("a", 1, NULL), -EINVAL);
}

Test(utf8, space_and_control_classes)
{
    static const uint32_t space[] = {0x09, 0x0A, 0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2000,
                                     0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000};
    static const uint32_t not_space[] = {'a', 0x00, 0x1F, 0x200B /* zero width */, 0xFEFF,
                                         0x2FFF, 0x1F600};
    for (size_t i = 0; i < sizeof space / sizeof space[0]; i++)
        cr_expect_eq(td_utf8_is_space(space[i]), 1, "U+%04X", space[i]);
    for (size_t i = 0; i < sizeof not_space / sizeof not_space[0]; i++)
        cr_expect_eq(td_utf8_is_space(not_space[i]), 0, "U+%04X", not_space[i]);
    cr_expect_eq(td_utf8_is_control(0x00), 1);
    cr_expect_eq(td_utf8_is_control(0x1F), 1);
    cr_expect_eq(td_utf8_is_control(0x7F), 1);
    cr_expect_eq(td_utf8_is_control(0x9F), 1);
    cr_expect_eq(td_utf8_is_control(0x20), 0);
    cr_expect_eq(td_utf8_is_control(0xA0), 0);
    cr_expect_eq(td_utf8_is_control('~'), 0);
}

Test(utf8, scan_counts_code_points)
{
    struct td_utf8_span sp;
    const char *s = "caf\xc3\xa9 \xf0\x9f\x98\x80";
    cr_assert_eq(td_utf8_scan(s, strlen(s), 0, &sp), 0);
    cr_expect_eq(sp.chars, 6);
    cr_expect_eq(sp.start, 0);
    cr_expect_eq(sp.end, strlen(s));
    cr_expect_eq(sp.has_control, 0);
    cr_assert_eq(td_utf8_scan("", 0, 0, &sp), 0);
    cr_expect_eq(sp.chars, 0);
    cr_assert_eq(td_utf8_scan(NULL, 0, 1, &sp), 0, "no bytes is an empty text");
    cr_expect_eq(sp.chars, 0);
}

Test(utf8, scan_trims_unicode_white_space)
{
    struct td_utf8_span sp;
    const char *s = "\xe3\x80\x80 \t caf\xc3\xa9 au lait\xc2\xa0\n"; /* U+3000 ... NBSP */
    cr_assert_eq(td_utf8_scan(s, strlen(s), 1, &sp), 0);
    cr_expect_eq(sp.start, 6);
    cr_expect_eq(sp.end - sp.start, strlen("caf\xc3\xa9 au lait"));
    cr_expect_eq(sp.chars, 12, "inner spaces stay");
    cr_expect_eq(sp.has_control, 0, "trimmed tab and newline are not inside the span");
    /* Without trim the same text keeps everything. */
    cr_assert_eq(td_utf8_scan(s, strlen(s), 0, &sp), 0);
    cr_expect_eq(sp.start, 0);
    cr_expect_eq(sp.chars, 18);
    cr_expect_eq(sp.has_control, 1);
    const char *blank = " \xe3\x80\x80\xc2\xa0 ";
    cr_assert_eq(td_utf8_scan(blank, strlen(blank), 1, &sp), 0);
    cr_expect_eq(sp.chars, 0, "only white space trims to nothing");
}

Test(utf8, scan_flags_controls_inside_the_span)
{
    struct td_utf8_span sp;
    cr_assert_eq(td_utf8_scan("a\x07" "b", 3, 1, &sp), 0);
    cr_expect_eq(sp.has_control, 1);
    cr_assert_eq(td_utf8_scan("a\xc2\x85" "b", 4, 0, &sp), 0);
    cr_expect_eq(sp.has_control, 1, "U+0085 is a C1 control");
    /* Tab and newline are white space as well as controls: trimmed at the ends, but
     * still controls between two other characters. */
    cr_assert_eq(td_utf8_scan(" a\tb\n", 5, 1, &sp), 0);
    cr_expect_eq(sp.chars, 3);
    cr_expect_eq(sp.has_control, 1);
    cr_assert_eq(td_utf8_scan("\ta b\r\n", 6, 1, &sp), 0);
    cr_expect_eq(sp.has_control, 0);
}

Test(utf8, scan_refuses_invalid_text_and_nul)
{
    struct td_utf8_span sp;
    cr_expect_eq(td_utf8_scan("ab\xff", 3, 0, &sp), -EILSEQ);
    cr_expect_eq(td_utf8_scan("\xc3", 1, 1, &sp), -EILSEQ);
    cr_expect_eq(td_utf8_scan("a\0b", 3, 0, &sp), -EILSEQ, "PostgreSQL text cannot hold NUL");
    cr_expect_eq(td_utf8_scan(" \0", 2, 1, &sp), -EILSEQ, "not even where trimming would drop it");
    cr_expect_eq(td_utf8_scan("a", 1, 0, NULL), -EINVAL);
    cr_expect_eq(td_utf8_scan(NULL, 1, 0, &sp), -EINVAL);
}

Test(utf8, copy_keeps_whole_characters)
{
    char dst[8];
    cr_expect_eq(td_utf8_copy(dst, sizeof dst, "abc"), 0);
    cr_expect_str_eq(dst, "abc");
    /* Three two-byte characters fit in 7 bytes; a fourth would need 9 with the NUL. */
    cr_expect_eq(td_utf8_copy(dst, sizeof dst, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"), -E2BIG);
    cr_expect_str_eq(dst, "\xc3\xa9\xc3\xa9\xc3\xa9");
    /* A four-byte character that does not fit is dropped whole. */
    cr_expect_eq(td_utf8_copy(dst, sizeof dst, "abcd\xf0\x9f\x98\x80"), -E2BIG);
    cr_expect_str_eq(dst, "abcd");
    char one[1];
    cr_expect_eq(td_utf8_copy(one, sizeof one, "x"), -E2BIG);
    cr_expect_str_eq(one, "");
    cr_expect_eq(td_utf8_copy(dst, 0, "x"), -EINVAL);
    cr_expect_eq(td_utf8_copy(NULL, 4, "x"), -EINVAL);
    cr_expect_eq(td_utf8_copy(dst, sizeof dst, NULL), -EINVAL);
}

Test(utf8, copy_replaces_invalid_bytes)
{
    char dst[16];
    cr_expect_eq(td_utf8_copy(dst, sizeof dst, "bad\xffkey\xc3"), 0);
    cr_expect_str_eq(dst, "bad?key?");
    cr_expect_eq(td_utf8_copy(dst, sizeof dst, "\xed\xa0\x80"), 0, "a surrogate is 3 bad bytes");
    cr_expect_str_eq(dst, "???");
}
