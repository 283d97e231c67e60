/* core/phc.c: argon2id PHC strings, checked against libargon2 itself (its encoder in
 * argon2id_hash_encoded, its decoder in argon2id_verify) so the two cannot drift. */
#include <argon2.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/phc.h"

/* Small costs keep the tests fast; the format does not depend on them. */
#define T 1
#define M 64
#define P 1
#define PW "pass word"

static const uint8_t salt16[16] = "0123456789abcdef";

static struct td_phc params(uint32_t version, const uint8_t *salt, size_t saltlen, size_t hashlen)
{
    struct td_phc p = {.version = version, .m_cost = M, .t_cost = T, .lanes = P,
                       .saltlen = saltlen, .hashlen = hashlen};
    memcpy(p.salt, salt, saltlen);
    return p;
}

Test(phc, encode_matches_libargon2)
{
    /* Every salt and hash length mod 3 exercises each base64 tail. */
    size_t lens[][2] = {{16, 32}, {8, 4}, {17, 33}, {18, 34}, {48, 64}};
    uint8_t salt[48];
    for (size_t i = 0; i < sizeof salt; i++)
        salt[i] = (uint8_t)(i * 37 + 11);
    for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
        size_t sl = lens[k][0], hl = lens[k][1];
        char want[256], got[256];
        cr_assert_eq(argon2id_hash_encoded(T, M, P, PW, strlen(PW), salt, sl, hl, want, sizeof want),
                     ARGON2_OK);
        struct td_phc p = params(ARGON2_VERSION_13, salt, sl, hl);
        cr_assert_eq(argon2id_hash_raw(T, M, P, PW, strlen(PW), salt, sl, p.hash, hl), ARGON2_OK);
        cr_assert_eq(td_phc_encode(&p, got, sizeof got), 0);
        cr_expect_str_eq(got, want, "salt %zu, hash %zu bytes", sl, hl);
    }
}

Test(phc, decode_reads_what_libargon2_wrote)
{
    char enc[256];
    cr_assert_eq(argon2id_hash_encoded(2, 19456, 1, PW, strlen(PW), salt16, 16, 32, enc, sizeof enc),
                 ARGON2_OK);
    struct td_phc p;
    cr_assert_eq(td_phc_decode(enc, &p), 0, "%s", enc);
    cr_expect_eq(p.version, 0x13);
    cr_expect_eq(p.m_cost, 19456);
    cr_expect_eq(p.t_cost, 2);
    cr_expect_eq(p.lanes, 1);
    cr_assert_eq(p.saltlen, 16);
    cr_expect_eq(memcmp(p.salt, salt16, 16), 0);
    uint8_t raw[32];
    cr_assert_eq(argon2id_hash_raw(2, 19456, 1, PW, strlen(PW), salt16, 16, raw, 32), ARGON2_OK);
    cr_assert_eq(p.hashlen, 32);
    cr_expect_eq(memcmp(p.hash, raw, 32), 0);
    char again[256];
    cr_assert_eq(td_phc_encode(&p, again, sizeof again), 0);
    cr_expect_str_eq(again, enc, "decode then encode gives the same string");
}

/* libargon2 reads a string without "$v=" as version 1.0 (0x10); so must we. */
Test(phc, missing_version_is_argon2_1_0)
{
    char enc[256];
    uint8_t raw[32];
    cr_assert_eq(argon2_hash(T, M, P, PW, strlen(PW), salt16, 16, raw, 32, enc, sizeof enc,
                             Argon2_id, ARGON2_VERSION_10), ARGON2_OK);
    char *v = strstr(enc, "$v=16");
    cr_assert_not_null(v, "%s", enc);
    memmove(v, v + 5, strlen(v + 5) + 1);
    cr_assert_eq(argon2id_verify(enc, PW, strlen(PW)), ARGON2_OK, "libargon2 takes %s", enc);
    struct td_phc p;
    cr_assert_eq(td_phc_decode(enc, &p), 0, "%s", enc);
    cr_expect_eq(p.version, 0x10);
    cr_expect_eq(memcmp(p.hash, raw, 32), 0);
}

/* Each of these is refused by libargon2's decoder too (ARGON2_DECODING_FAIL or a type
 * error), so refusing them here changes no answer. */
Test(phc, malformed_strings_refused_like_libargon2)
{
    char good[256];
    cr_assert_eq(argon2id_hash_encoded(T, M, P, PW, strlen(PW), salt16, 16, 32, good, sizeof good),
                 ARGON2_OK);
    const char *bad[] = {
        "",
        "$argon2i$v=19$m=64,t=1,p=1",
        "$argon2d$v=19$m=64,t=1,p=1",
        "argon2id$v=19$m=64,t=1,p=1",
        "$argon2id$v=19$m=064,t=1,p=1",         /* leading zero */
        "$argon2id$v=19$m=,t=1,p=1",            /* no digits */
        "$argon2id$v=19$m=4294967296,t=1,p=1",  /* over 32 bits */
        "$argon2id$v=19$m=-1,t=1,p=1",
        "$argon2id$v=19$t=1,m=64,p=1",          /* order is fixed */
        "$argon2id$v=19$m=64,t=1",              /* no p */
        "$argon2id$v=19$m=64,t=1,p=1",          /* no salt or hash */
        "$argon2id$v=19$m=64,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg", /* salt, no hash */
        "$argon2id$v=19$m=64,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "$argon2id$v=19$m=64,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZh$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", /* stray bits */
        "$argon2id$v=19$m=64,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZgAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", /* 1 mod 4 */
        "$argon2id$v=19$m=64,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA$", /* trailing */
        "$argon2id$v=19$m=64,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA ",
        "$argon2id$v=19$m=64,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAAAA-_AAAAAAAAAAAAAAAAA", /* base64url */
        "$argon2id$v=19$m=64,t=1,p=1,data=AAAA$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct td_phc p;
        cr_expect_eq(td_phc_decode(bad[i], &p), -EINVAL, "accepted %s", bad[i]);
        int rc = argon2id_verify(bad[i], PW, strlen(PW));
        cr_expect(rc != ARGON2_OK && rc != ARGON2_VERIFY_MISMATCH,
                  "libargon2 decodes %s (%d), so we should", bad[i], rc);
    }
    /* The well-formed original passes. */
    struct td_phc p;
    cr_expect_eq(td_phc_decode(good, &p), 0);
    cr_expect_eq(td_phc_decode(NULL, &p), -EINVAL);
}

Test(phc, fields_longer_than_the_buffers_refused)
{
    char s[1200];
    int n = snprintf(s, sizeof s, "$argon2id$v=19$m=64,t=1,p=1$");
    for (int i = 0; i < 520; i++) /* 390 bytes of salt */
        s[n++] = 'A';
    snprintf(s + n, sizeof s - (size_t)n, "$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    struct td_phc p;
    cr_expect_eq(td_phc_decode(s, &p), -EINVAL);
}

Test(phc, encode_checks_room_and_lengths)
{
    struct td_phc p = params(ARGON2_VERSION_13, salt16, 16, 32);
    size_t need = argon2_encodedlen(T, M, P, 16, 32, Argon2_id); /* counts the NUL */
    char out[256];
    cr_expect_eq(td_phc_encode(&p, out, need), 0, "exactly argon2_encodedlen bytes fit");
    cr_expect_eq(strlen(out), need - 1);
    cr_expect_eq(td_phc_encode(&p, out, need - 1), -ENOSPC);
    cr_expect_eq(td_phc_encode(&p, out, 10), -ENOSPC);
    p.saltlen = 0;
    cr_expect_eq(td_phc_encode(&p, out, sizeof out), -EINVAL);
    p.saltlen = TD_PHC_FIELD_MAX + 1;
    cr_expect_eq(td_phc_encode(&p, out, sizeof out), -EINVAL);
    p.saltlen = 16;
    p.hashlen = 0;
    cr_expect_eq(td_phc_encode(&p, out, sizeof out), -EINVAL);
    cr_expect_eq(td_phc_encode(NULL, out, sizeof out), -EINVAL);
}
