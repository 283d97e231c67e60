/* core/buf.c: the growable byte buffer every other module writes into. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

Test(buf, empty_buffer_has_no_memory)
{
    struct td_buf b = {0};
    cr_assert_null(b.data);
    td_buf_reset(&b);   /* must not touch data when nothing was allocated */
    cr_assert_eq(b.len, 0);
    td_buf_free(&b);
    cr_assert_null(b.data);
}

Test(buf, append_keeps_bytes_and_nul_terminates)
{
    struct td_buf b = {0};
    cr_assert_eq(td_buf_append(&b, "abc", 3), 0);
    cr_assert_eq(b.len, 3);
    cr_assert_str_eq(b.data, "abc");
    cr_assert_eq(td_buf_append(&b, "de\0f", 4), 0);   /* binary-safe */
    cr_assert_eq(b.len, 7);
    cr_assert_eq(memcmp(b.data, "abcde\0f", 7), 0);
    cr_assert_eq(b.data[7], '\0');
    td_buf_free(&b);
}

Test(buf, append_zero_bytes_allocates_terminator)
{
    struct td_buf b = {0};
    cr_assert_eq(td_buf_append(&b, "", 0), 0);
    cr_assert_not_null(b.data);
    cr_assert_str_eq(b.data, "");
    cr_assert_eq(b.len, 0);
    td_buf_free(&b);
}

Test(buf, grows_past_many_doublings)
{
    struct td_buf b = {0};
    char chunk[1000];
    for (int i = 0; i < 1000; i++) {
        memset(chunk, 'a' + i % 26, sizeof chunk);
        cr_assert_eq(td_buf_append(&b, chunk, sizeof chunk), 0);
    }
    cr_assert_eq(b.len, 1000 * 1000);
    cr_assert_geq(b.cap, b.len + 1);
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(b.data[i * 1000 + 999], 'a' + i % 26, "chunk %d", i);
    cr_assert_eq(b.data[b.len], '\0');
    td_buf_free(&b);
}

Test(buf, reserve_guarantees_room_without_changing_len)
{
    struct td_buf b = {0};
    cr_assert_eq(td_buf_puts(&b, "xy"), 0);
    cr_assert_eq(td_buf_reserve(&b, 5000), 0);
    cr_assert_geq(b.cap, 2 + 5000 + 1);
    cr_assert_eq(b.len, 2);
    cr_assert_str_eq(b.data, "xy");
    size_t cap = b.cap;
    char *data = b.data;
    cr_assert_eq(td_buf_reserve(&b, 10), 0);   /* enough room already: no realloc */
    cr_assert_eq(b.cap, cap);
    cr_assert_eq(b.data, data);
    td_buf_free(&b);
}

Test(buf, reserve_overflow_is_enomem)
{
    struct td_buf b = {0};
    cr_assert_eq(td_buf_puts(&b, "x"), 0);
    cr_assert_lt(td_buf_reserve(&b, (size_t)-1 - 8), 0);
    cr_assert_str_eq(b.data, "x");   /* unchanged after the failure */
    td_buf_free(&b);
}

Test(buf, puts_appends)
{
    struct td_buf b = {0};
    td_buf_puts(&b, "hello");
    td_buf_puts(&b, ", ");
    td_buf_puts(&b, "world");
    cr_assert_str_eq(b.data, "hello, world");
    cr_assert_eq(b.len, strlen("hello, world"));
    td_buf_free(&b);
}

Test(buf, printf_on_empty_buffer)
{
    struct td_buf b = {0};
    cr_assert_eq(td_buf_printf(&b, "%d-%s-%c", 42, "x", 'z'), 0);
    cr_assert_str_eq(b.data, "42-x-z");
    cr_assert_eq(b.len, 6);
    td_buf_free(&b);
}

Test(buf, printf_fits_in_existing_room)
{
    struct td_buf b = {0};
    td_buf_puts(&b, "a");
    size_t cap = b.cap;
    cr_assert_eq(td_buf_printf(&b, "[%05d]", 7), 0);
    cr_assert_str_eq(b.data, "a[00007]");
    cr_assert_eq(b.len, 8);
    cr_assert_eq(b.cap, cap);
    td_buf_free(&b);
}

Test(buf, printf_exactly_filling_room_still_terminates)
{
    struct td_buf b = {0};
    td_buf_puts(&b, "x");
    size_t room = b.cap - b.len;   /* the formatted text + NUL must fit */
    char *s = malloc(room + 1);
    memset(s, 'q', room);
    s[room] = '\0';
    cr_assert_eq(td_buf_printf(&b, "%s", s), 0);   /* room chars: needs a grow for the NUL */
    cr_assert_eq(b.len, 1 + room);
    cr_assert_eq(b.data[b.len], '\0');
    cr_assert_eq(b.data[b.len - 1], 'q');
    cr_assert_eq(b.data[0], 'x');
    free(s);
    td_buf_free(&b);
}

Test(buf, printf_larger_than_room_grows)
{
    struct td_buf b = {0};
    td_buf_puts(&b, ">");
    char big[10000];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    cr_assert_eq(td_buf_printf(&b, "%s|%s", big, "end"), 0);
    cr_assert_eq(b.len, 1 + 9999 + 4);
    cr_assert_eq(b.data[0], '>');
    cr_assert_str_eq(b.data + b.len - 4, "|end");
    td_buf_free(&b);
}

Test(buf, printf_empty_format)
{
    struct td_buf b = {0};
    cr_assert_eq(td_buf_printf(&b, "%s", ""), 0);
    cr_assert_eq(b.len, 0);
    td_buf_free(&b);
}

Test(buf, reset_keeps_memory)
{
    struct td_buf b = {0};
    td_buf_puts(&b, "some text");
    char *data = b.data;
    size_t cap = b.cap;
    td_buf_reset(&b);
    cr_assert_eq(b.len, 0);
    cr_assert_eq(b.data, data);
    cr_assert_eq(b.cap, cap);
    cr_assert_str_eq(b.data, "");
    td_buf_puts(&b, "new");
    cr_assert_str_eq(b.data, "new");
    td_buf_free(&b);
}

Test(buf, free_clears_everything)
{
    struct td_buf b = {0};
    td_buf_puts(&b, "x");
    td_buf_free(&b);
    cr_assert_null(b.data);
    cr_assert_eq(b.len, 0);
    cr_assert_eq(b.cap, 0);
    td_buf_free(&b);   /* twice is harmless */
    td_buf_puts(&b, "again");   /* usable after free */
    cr_assert_str_eq(b.data, "again");
    td_buf_free(&b);
}

Test(buf, steal_hands_over_and_empties)
{
    struct td_buf b = {0};
    td_buf_puts(&b, "payload");
    size_t len = 0;
    char *s = td_buf_steal(&b, &len);
    cr_assert_str_eq(s, "payload");
    cr_assert_eq(len, 7);
    cr_assert_null(b.data);
    cr_assert_eq(b.len, 0);
    cr_assert_eq(b.cap, 0);
    free(s);

    cr_assert_null(td_buf_steal(&b, &len));   /* empty buffer: nothing to hand over */
    cr_assert_eq(len, 0);
    td_buf_puts(&b, "ok");
    s = td_buf_steal(&b, NULL);   /* len is optional */
    cr_assert_str_eq(s, "ok");
    free(s);
}
