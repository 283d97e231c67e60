/* core/jsonw.c: JSON strings written straight into a buffer. Every output is checked by
 * parsing it back with jansson. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

#include "core/jsonw.h"

/* Encodes s (len bytes), parses the result with jansson and checks it decodes to the
 * same bytes. Returns the encoded text (owned by b). */
static const char *roundtrip(struct td_buf *b, const char *s, size_t len)
{
    td_buf_reset(b);
    cr_assert_eq(td_jsonw_str(b, s, len), 0);
    json_error_t e;
    json_t *v = json_loads(b->data, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    cr_assert_not_null(v, "jansson rejected %s: %s", b->data, e.text);
    cr_assert(json_is_string(v));
    cr_assert_eq(json_string_length(v), len, "length of %s", b->data);
    cr_assert_eq(memcmp(json_string_value(v), s, len), 0, "value of %s", b->data);
    json_decref(v);
    return b->data;
}

Test(jsonw, plain_ascii_is_quoted)
{
    struct td_buf b = {0};
    cr_assert_str_eq(roundtrip(&b, "hello", 5), "\"hello\"");
    td_buf_free(&b);
}

Test(jsonw, empty_string)
{
    struct td_buf b = {0};
    cr_assert_str_eq(roundtrip(&b, "", 0), "\"\"");
    td_buf_free(&b);
}

Test(jsonw, quote_and_backslash_escaped)
{
    struct td_buf b = {0};
    const char *s = "say \"hi\" \\ bye";
    cr_assert_str_eq(roundtrip(&b, s, strlen(s)), "\"say \\\"hi\\\" \\\\ bye\"");
    td_buf_free(&b);
}

Test(jsonw, common_control_chars_use_short_escapes)
{
    struct td_buf b = {0};
    cr_assert_str_eq(roundtrip(&b, "a\nb\rc\td", 7), "\"a\\nb\\rc\\td\"");
    td_buf_free(&b);
}

Test(jsonw, every_control_char_is_escaped)
{
    struct td_buf b = {0};
    char all[32];
    for (int i = 0; i < 32; i++)
        all[i] = (char)i;   /* including NUL: explicit length */
    const char *out = roundtrip(&b, all, sizeof all);
    for (const char *p = out; *p; p++)
        cr_assert_geq((unsigned char)*p, 0x20, "raw control byte 0x%02x in output", *p);
    cr_assert_not_null(strstr(out, "\\u0000"));
    cr_assert_not_null(strstr(out, "\\u001f"));
    cr_assert_not_null(strstr(out, "\\u0008"));
    td_buf_free(&b);
}

Test(jsonw, del_is_escaped)
{
    struct td_buf b = {0};
    cr_assert_str_eq(roundtrip(&b, "x\x7fy", 3), "\"x\\u007fy\"");
    td_buf_free(&b);
}

Test(jsonw, utf8_passes_through_unchanged)
{
    struct td_buf b = {0};
    const char *s = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xe6\x97\xa5\xe6\x9c\xac";
    const char *out = roundtrip(&b, s, strlen(s));
    cr_assert_eq(strlen(out), strlen(s) + 2);   /* no \u escapes: bytes copied */
    cr_assert_eq(memcmp(out + 1, s, strlen(s)), 0);
    td_buf_free(&b);
}

Test(jsonw, len_minus_one_means_strlen)
{
    struct td_buf b = {0};
    cr_assert_eq(td_jsonw_str(&b, "abc\"d", (size_t)-1), 0);
    cr_assert_str_eq(b.data, "\"abc\\\"d\"");
    td_buf_reset(&b);
    cr_assert_eq(td_jsonw_str(&b, "abcdef", 3), 0);   /* explicit length cuts */
    cr_assert_str_eq(b.data, "\"abc\"");
    td_buf_free(&b);
}

Test(jsonw, appends_after_existing_content)
{
    struct td_buf b = {0};
    td_buf_puts(&b, "[1,");
    td_jsonw_str(&b, "two", (size_t)-1);
    td_buf_puts(&b, "]");
    cr_assert_str_eq(b.data, "[1,\"two\"]");
    cr_assert_eq(b.len, strlen(b.data));
    td_buf_free(&b);
}

Test(jsonw, worst_case_growth_large_input)
{
    /* Every byte escapes to six: the single up-front reservation must hold it. */
    struct td_buf b = {0};
    td_buf_puts(&b, "prefix");
    size_t n = 100000;
    char *s = malloc(n);
    for (size_t i = 0; i < n; i++)
        s[i] = (char)(1 + i % 7);   /* \u0001..\u0007 */
    td_buf_reset(&b);
    roundtrip(&b, s, n);
    cr_assert_eq(b.len, n * 6 + 2);
    free(s);
    td_buf_free(&b);
}

Test(jsonw, key_writes_quoted_name_and_colon)
{
    struct td_buf b = {0};
    td_buf_puts(&b, "{");
    cr_assert_eq(td_jsonw_key(&b, "na\"me"), 0);
    td_jsonw_str(&b, "v", (size_t)-1);
    td_buf_puts(&b, ",");
    td_jsonw_key(&b, "n");
    td_buf_puts(&b, "1}");
    cr_assert_str_eq(b.data, "{\"na\\\"me\":\"v\",\"n\":1}");
    json_error_t e;
    json_t *o = json_loads(b.data, 0, &e);
    cr_assert_not_null(o, "%s", e.text);
    cr_assert_str_eq(json_string_value(json_object_get(o, "na\"me")), "v");
    cr_assert_eq(json_integer_value(json_object_get(o, "n")), 1);
    json_decref(o);
    td_buf_free(&b);
}

Test(jsonw, every_byte_value_roundtrips_as_valid_json)
{
    /* All ASCII bytes in one string, plus a valid multi-byte sequence. */
    struct td_buf b = {0};
    char s[130];
    for (int i = 0; i < 128; i++)
        s[i] = (char)i;
    s[128] = '\xc3';
    s[129] = '\xa9';
    roundtrip(&b, s, sizeof s);
    td_buf_free(&b);
}

/* Found by fuzz/fuzz_http.c: a request target with a raw 0xd1 byte went into the access log
 * as is, and the log line was not valid JSON (JSON text is UTF-8). Every byte that does
 * not start a well-formed sequence becomes U+FFFD; well-formed sequences stay. */
Test(jsonw, invalid_utf8_becomes_replacement_characters)
{
    static const struct { const char *in, *out; } cases[] = {
        {"/\xd1HTTP/0.1", "\"/\\ufffdHTTP/0.1\""},          /* the fuzzer's path */
        {"\x80", "\"\\ufffd\""},                            /* lone continuation */
        {"\xff\xfe", "\"\\ufffd\\ufffd\""},
        {"\xc0\xaf", "\"\\ufffd\\ufffd\""},                  /* overlong '/' */
        {"\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\""},      /* overlong, 3 bytes */
        {"\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""},      /* UTF-16 surrogate */
        {"\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""},  /* past U+10FFFF */
        {"ab\xe2\x82", "\"ab\\ufffd\\ufffd\""},              /* cut at the end */
        {"\xc3\xa9\xc3", "\"\xc3\xa9\\ufffd\""},             /* good, then cut */
        {"\xf4\x8f\xbf\xbf", "\"\xf4\x8f\xbf\xbf\""},        /* U+10FFFF stays */
    };
    struct td_buf b = {0};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        td_buf_reset(&b);
        cr_assert_eq(td_jsonw_str(&b, cases[i].in, (size_t)-1), 0);
        cr_assert_str_eq(b.data, cases[i].out, "case %zu", i);
        json_error_t e;
        json_t *v = json_loads(b.data, JSON_DECODE_ANY, &e);
        cr_assert_not_null(v, "case %zu: jansson rejected %s: %s", i, b.data, e.text);
        json_decref(v);
    }
    td_buf_free(&b);
}
