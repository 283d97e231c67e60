/* core/auth.c: JWT verification against tokens crafted here with OpenSSL directly (so a
 * bug shared by td_auth_issue and td_auth_verify cannot hide), and argon2id hashing on
 * a real libuv loop. */
#include <argon2.h>
#include <criterion/criterion.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "core/auth.h"

#define KEY   "0123456789abcdef0123456789abcdef"   /* 32 bytes */
#define OTHER "fedcba9876543210fedcba9876543210"   /* 32 bytes, another key */
#define NOW   ((time_t)1700000000)
#define HS256 "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"

/* ---------- helpers ---------- */

static char *b64url(const void *data, size_t len)
{
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    cr_assert_not_null(out);
    int n = EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    while (n > 0 && out[n - 1] == '=')
        n--;
    out[n] = '\0';
    for (char *p = out; *p; p++)
        *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
    return out;
}

/* header.payload.signature with HMAC over the first two parts using md and key. */
static char *craft_md(const char *header, const char *payload, const EVP_MD *md,
                      const char *key)
{
    char *h = b64url(header, strlen(header)), *p = b64url(payload, strlen(payload));
    size_t n = strlen(h) + strlen(p) + 2;
    char *signing = malloc(n);
    snprintf(signing, n, "%s.%s", h, p);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    cr_assert_not_null(HMAC(md, key, (int)strlen(key), (unsigned char *)signing,
                            strlen(signing), mac, &maclen));
    char *s = b64url(mac, maclen);
    size_t tn = strlen(signing) + strlen(s) + 2;
    char *tok = malloc(tn);
    snprintf(tok, tn, "%s.%s", signing, s);
    free(h);
    free(p);
    free(s);
    free(signing);
    return tok;
}

static char *craft(const char *header, const char *payload, const char *key)
{
    return craft_md(header, payload, EVP_sha256(), key);
}

static char *claims(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *claims(const char *fmt, ...)
{
    static char buf[4][1024];
    static int i;
    va_list ap;
    va_start(ap, fmt);
    char *b = buf[i++ % 4];
    vsnprintf(b, sizeof buf[0], fmt, ap);
    va_end(ap);
    return b;
}

static struct td_auth *make_auth(const char *iss, const char *aud, int leeway)
{
    struct td_auth_opts o = {.secret = KEY, .issuer = iss, .audience = aud,
                             .leeway_s = leeway, .token_ttl_s = 3600};
    struct td_auth *a = NULL;
    cr_assert_eq(td_auth_new(&o, &a), 0);
    cr_assert_not_null(a);
    return a;
}

/* Verifies a crafted token with HS256 header and the given claims, signed with KEY. */
static enum td_auth_error verify_claims(struct td_auth *a, const char *payload, char *sub,
                                        size_t sublen)
{
    char *t = craft(HS256, payload, KEY);
    enum td_auth_error e = td_auth_verify(a, t, NOW, sub, sublen);
    free(t);
    return e;
}

static json_t *payload_of(const char *token)
{
    const char *d1 = strchr(token, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    cr_assert(d1 && d2);
    size_t n = (size_t)(d2 - d1 - 1);
    char *std = calloc(1, n + 4);
    memcpy(std, d1 + 1, n);
    for (size_t i = 0; i < n; i++)
        std[i] = std[i] == '-' ? '+' : std[i] == '_' ? '/' : std[i];
    while (n % 4)
        std[n++] = '=';
    unsigned char *raw = calloc(1, n);
    int len = EVP_DecodeBlock(raw, (unsigned char *)std, (int)n);
    cr_assert_gt(len, 0);
    while (len > 0 && raw[len - 1] == '\0') /* DecodeBlock counts padding as zeros */
        len--;
    json_t *j = json_loadb((char *)raw, (size_t)len, 0, NULL);
    cr_assert_not_null(j, "payload is JSON");
    free(std);
    free(raw);
    return j;
}

/* ---------- keys and options ---------- */

Test(auth, short_or_missing_key_rejected)
{
    struct td_auth *a = (struct td_auth *)1;
    struct td_auth_opts o = {.secret = "0123456789abcdef0123456789abcde"}; /* 31 bytes */
    cr_assert_eq(td_auth_new(&o, &a), -EINVAL);
    cr_assert_null(a);
    o.secret = NULL;
    cr_assert_eq(td_auth_new(&o, &a), -EINVAL);
    o.secret = "";
    cr_assert_eq(td_auth_new(&o, &a), -EINVAL);
    o.secret = KEY;
    o.leeway_s = -1;
    cr_assert_eq(td_auth_new(&o, &a), -EINVAL);
    o.leeway_s = 0;
    cr_assert_eq(td_auth_new(&o, &a), 0);
    td_auth_free(a);
    td_auth_free(NULL);
}

Test(auth, error_texts_are_distinct)
{
    for (int i = TD_AUTH_OK; i <= TD_AUTH_BAD_AUDIENCE; i++)
        for (int j = i + 1; j <= TD_AUTH_BAD_AUDIENCE; j++)
            cr_assert_str_neq(td_auth_error_text(i), td_auth_error_text(j));
    cr_assert_not_null(td_auth_error_text((enum td_auth_error)99));
}

/* ---------- issuing ---------- */

Test(auth, issue_verify_round_trip)
{
    struct td_auth *a = make_auth(NULL, NULL, 0);
    char *t = td_auth_issue(a, "user-42", NOW);
    cr_assert_not_null(t);
    char sub[64] = "x";
    cr_assert_eq(td_auth_verify(a, t, NOW, sub, sizeof sub), TD_AUTH_OK);
    cr_assert_str_eq(sub, "user-42");
    /* Still valid just before the ttl, not after it. */
    cr_assert_eq(td_auth_verify(a, t, NOW + 3600, sub, sizeof sub), TD_AUTH_OK);
    cr_assert_eq(td_auth_verify(a, t, NOW + 3601, sub, sizeof sub), TD_AUTH_EXPIRED);
    free(t);
    cr_assert_null(td_auth_issue(a, "", NOW));
    cr_assert_null(td_auth_issue(a, NULL, NOW));
    td_auth_free(a);
}

Test(auth, issued_token_is_standard_hs256)
{
    struct td_auth *a = make_auth("https://todod.example", "todod", 0);
    char *t = td_auth_issue(a, "u1", NOW);
    char *t2 = td_auth_issue(a, "u1", NOW);
    cr_assert(t && t2);

    /* Signature recomputed here with OpenSSL over header.payload. */
    const char *d2 = strrchr(t, '.');
    unsigned char mac[32];
    unsigned int maclen;
    HMAC(EVP_sha256(), KEY, 32, (unsigned char *)t, (size_t)(d2 - t), mac, &maclen);
    char *sig = b64url(mac, maclen);
    cr_assert_str_eq(d2 + 1, sig);
    free(sig);

    json_t *p = payload_of(t), *p2 = payload_of(t2);
    cr_assert_str_eq(json_string_value(json_object_get(p, "sub")), "u1");
    cr_assert_eq(json_integer_value(json_object_get(p, "iat")), NOW);
    cr_assert_eq(json_integer_value(json_object_get(p, "exp")), NOW + 3600);
    cr_assert_str_eq(json_string_value(json_object_get(p, "iss")), "https://todod.example");
    cr_assert_str_eq(json_string_value(json_object_get(p, "aud")), "todod");
    const char *jti = json_string_value(json_object_get(p, "jti"));
    cr_assert(jti && strlen(jti) >= 16);
    cr_assert_str_neq(jti, json_string_value(json_object_get(p2, "jti")), "jti is random");
    json_decref(p);
    json_decref(p2);

    char sub[16];
    cr_assert_eq(td_auth_verify(a, t, NOW, sub, sizeof sub), TD_AUTH_OK);
    free(t);
    free(t2);
    td_auth_free(a);
}

/* The ttl a login answer reports is the one issued tokens carry; 0 means the default. */
Test(auth, token_ttl_is_what_issue_uses)
{
    struct td_auth *a = make_auth(NULL, NULL, 0);
    cr_assert_eq(td_auth_token_ttl(a), 3600);
    char *t = td_auth_issue(a, "u1", NOW);
    json_t *p = payload_of(t);
    cr_assert_eq(json_integer_value(json_object_get(p, "exp")) -
                 json_integer_value(json_object_get(p, "iat")), td_auth_token_ttl(a));
    json_decref(p);
    free(t);
    td_auth_free(a);
    struct td_auth_opts o = {.secret = KEY};
    cr_assert_eq(td_auth_new(&o, &a), 0);
    cr_assert_eq(td_auth_token_ttl(a), 86400, "the default ttl");
    td_auth_free(a);
}

Test(auth, issue_without_iss_aud_omits_them)
{
    struct td_auth *a = make_auth(NULL, "", 0); /* "" means not configured */
    char *t = td_auth_issue(a, "u1", NOW);
    json_t *p = payload_of(t);
    cr_assert_null(json_object_get(p, "iss"));
    cr_assert_null(json_object_get(p, "aud"));
    json_decref(p);
    free(t);
    td_auth_free(a);
}

/* ---------- time claims ---------- */

Test(auth, crafted_valid_token_accepted)
{
    struct td_auth *a = make_auth(NULL, NULL, 60);
    char sub[32];
    cr_assert_eq(verify_claims(a, claims("{\"sub\":\"alice\",\"exp\":%ld}", (long)NOW + 10),
                               sub, sizeof sub), TD_AUTH_OK);
    cr_assert_str_eq(sub, "alice");
    td_auth_free(a);
}

Test(auth, expired_beyond_leeway_refused_within_accepted)
{
    struct td_auth *a = make_auth(NULL, NULL, 60);
    char sub[32];
    cr_assert_eq(verify_claims(a, claims("{\"sub\":\"a\",\"exp\":%ld}", (long)NOW - 61), sub,
                               sizeof sub), TD_AUTH_EXPIRED);
    cr_assert_str_eq(sub, "", "no subject handed back on failure");
    cr_assert_eq(verify_claims(a, claims("{\"sub\":\"a\",\"exp\":%ld}", (long)NOW - 60), sub,
                               sizeof sub), TD_AUTH_OK);
    cr_assert_eq(verify_claims(a, claims("{\"sub\":\"a\",\"exp\":%ld}", (long)NOW - 1), sub,
                               sizeof sub), TD_AUTH_OK);
    td_auth_free(a);

    a = make_auth(NULL, NULL, 0);
    cr_assert_eq(verify_claims(a, claims("{\"sub\":\"a\",\"exp\":%ld}", (long)NOW - 1), sub,
                               sizeof sub), TD_AUTH_EXPIRED);
    td_auth_free(a);
}

Test(auth, leeway_is_capped_at_60)
{
    struct td_auth *a = make_auth(NULL, NULL, 3600);
    char sub[32];
    cr_assert_eq(verify_claims(a, claims("{\"sub\":\"a\",\"exp\":%ld}", (long)NOW - 120), sub,
                               sizeof sub), TD_AUTH_EXPIRED);
    td_auth_free(a);
}

Test(auth, nbf_and_iat_in_future_refused)
{
    struct td_auth *a = make_auth(NULL, NULL, 60);
    char sub[32];
    long exp = (long)NOW + 3600;
    cr_assert_eq(verify_claims(a, claims("{\"sub\":\"a\",\"exp\":%ld,\"nbf\":%ld}", exp,
                                         (long)NOW + 61), sub, sizeof sub),
                 TD_AUTH_NOT_YET_VALID);
    cr_assert_eq(verify_claims(a, claims("{\"sub\":\"a\",\"exp\":%ld,\"nbf\":%ld}", exp,
                                         (long)NOW + 60), sub, sizeof sub), TD_AUTH_OK);
    cr_assert_eq(verify_claims(a, claims("{\"sub\":\"a\",\"exp\":%ld,\"iat\":%ld}", exp,
                                         (long)NOW + 600), sub, sizeof sub),
                 TD_AUTH_NOT_YET_VALID);
    cr_assert_neq(verify_claims(a, claims("{\"sub\":\"a\",\"exp\":%ld,\"nbf\":\"soon\"}", exp),
                                sub, sizeof sub), TD_AUTH_OK);
    td_auth_free(a);
}

Test(auth, missing_or_non_integer_exp_refused)
{
    struct td_auth *a = make_auth(NULL, NULL, 60);
    char sub[32];
    cr_assert_eq(verify_claims(a, "{\"sub\":\"a\"}", sub, sizeof sub), TD_AUTH_NO_EXPIRY);
    cr_assert_neq(verify_claims(a, claims("{\"sub\":\"a\",\"exp\":\"%ld\"}", (long)NOW + 60),
                                sub, sizeof sub), TD_AUTH_OK);
    cr_assert_neq(verify_claims(a, "{\"sub\":\"a\",\"exp\":null}", sub, sizeof sub), TD_AUTH_OK);
    /* Extremes must not overflow into "valid". */
    cr_assert_eq(verify_claims(a, "{\"sub\":\"a\",\"exp\":-9223372036854775808}", sub,
                               sizeof sub), TD_AUTH_EXPIRED);
    cr_assert_eq(verify_claims(a, "{\"sub\":\"a\",\"exp\":9223372036854775807,"
                                  "\"nbf\":9223372036854775807}", sub, sizeof sub),
                 TD_AUTH_NOT_YET_VALID);
    td_auth_free(a);
}

/* ---------- subject ---------- */

Test(auth, missing_or_empty_sub_refused)
{
    struct td_auth *a = make_auth(NULL, NULL, 60);
    char sub[32];
    long exp = (long)NOW + 60;
    cr_assert_eq(verify_claims(a, claims("{\"exp\":%ld}", exp), sub, sizeof sub),
                 TD_AUTH_NO_SUBJECT);
    cr_assert_eq(verify_claims(a, claims("{\"sub\":\"\",\"exp\":%ld}", exp), sub, sizeof sub),
                 TD_AUTH_NO_SUBJECT);
    cr_assert_eq(verify_claims(a, claims("{\"sub\":42,\"exp\":%ld}", exp), sub, sizeof sub),
                 TD_AUTH_NO_SUBJECT);
    cr_assert_neq(verify_claims(a, claims("{\"sub\":\"a\\u0000b\",\"exp\":%ld}", exp), sub,
                                sizeof sub), TD_AUTH_OK);
    td_auth_free(a);
}

Test(auth, sub_that_does_not_fit_is_refused_not_truncated)
{
    struct td_auth *a = make_auth(NULL, NULL, 60);
    char sub[8] = "zz";
    cr_assert_eq(verify_claims(a, claims("{\"sub\":\"12345678\",\"exp\":%ld}", (long)NOW + 9),
                               sub, sizeof sub), TD_AUTH_MALFORMED);
    cr_assert_str_eq(sub, "");
    cr_assert_eq(verify_claims(a, claims("{\"sub\":\"1234567\",\"exp\":%ld}", (long)NOW + 9),
                               sub, sizeof sub), TD_AUTH_OK);
    cr_assert_str_eq(sub, "1234567");
    td_auth_free(a);
}

Test(auth, duplicate_claims_refused)
{
    struct td_auth *a = make_auth(NULL, NULL, 60);
    char sub[32];
    cr_assert_neq(verify_claims(a, claims("{\"sub\":\"a\",\"sub\":\"admin\",\"exp\":%ld}",
                                          (long)NOW + 60), sub, sizeof sub), TD_AUTH_OK);
    td_auth_free(a);
}

/* ---------- signature and algorithm ---------- */

Test(auth, wrong_key_refused)
{
    struct td_auth *a = make_auth(NULL, NULL, 60);
    char sub[32];
    char *t = craft(HS256, claims("{\"sub\":\"a\",\"exp\":%ld}", (long)NOW + 60), OTHER);
    cr_assert_eq(td_auth_verify(a, t, NOW, sub, sizeof sub), TD_AUTH_BAD_SIGNATURE);
    free(t);
    td_auth_free(a);
}

Test(auth, alg_none_refused)
{
    struct td_auth *a = make_auth(NULL, NULL, 60);
    char sub[32];
    char *h = b64url("{\"alg\":\"none\"}", 14);
    const char *pl = claims("{\"sub\":\"a\",\"exp\":%ld}", (long)NOW + 60);
    char *p = b64url(pl, strlen(pl));
    char tok[512];
    snprintf(tok, sizeof tok, "%s.%s.", h, p);
    cr_assert_eq(td_auth_verify(a, tok, NOW, sub, sizeof sub), TD_AUTH_BAD_ALGORITHM);
    free(h);
    free(p);
    /* Even with a correct HS256 signature attached, and in other spellings. */
    const char *hdrs[] = {"{\"alg\":\"none\"}", "{\"alg\":\"None\"}", "{\"alg\":\"NONE\"}",
                          "{\"alg\":\"hs256\"}", "{\"alg\":\"HS256 \"}", "{\"typ\":\"JWT\"}",
                          "{\"alg\":null}", "{\"alg\":[\"HS256\"]}"};
    for (size_t i = 0; i < sizeof hdrs / sizeof *hdrs; i++) {
        char *t = craft(hdrs[i], pl, KEY);
        cr_assert_eq(td_auth_verify(a, t, NOW, sub, sizeof sub), TD_AUTH_BAD_ALGORITHM, "%s",
                     hdrs[i]);
        free(t);
    }
    td_auth_free(a);
}

Test(auth, other_algorithms_refused)
{
    struct td_auth *a = make_auth(NULL, NULL, 60);
    char sub[32];
    const char *pl = claims("{\"sub\":\"a\",\"exp\":%ld}", (long)NOW + 60);
    char *t = craft_md("{\"alg\":\"HS512\",\"typ\":\"JWT\"}", pl, EVP_sha512(), KEY);
    cr_assert_eq(td_auth_verify(a, t, NOW, sub, sizeof sub), TD_AUTH_BAD_ALGORITHM);
    free(t);
    /* Algorithm switching: RS256 header, HMAC-signed with what the server holds. */
    t = craft("{\"alg\":\"RS256\",\"typ\":\"JWT\"}", pl, KEY);
    cr_assert_eq(td_auth_verify(a, t, NOW, sub, sizeof sub), TD_AUTH_BAD_ALGORITHM);
    free(t);
    /* Extensions we do not understand. */
    t = craft("{\"alg\":\"HS256\",\"crit\":[\"b64\"],\"b64\":false}", pl, KEY);
    cr_assert_neq(td_auth_verify(a, t, NOW, sub, sizeof sub), TD_AUTH_OK);
    free(t);
    td_auth_free(a);
}

Test(auth, tampered_token_refused)
{
    struct td_auth *a = make_auth(NULL, NULL, 60);
    char sub[32];
    char *good = craft(HS256, claims("{\"sub\":\"alice\",\"exp\":%ld}", (long)NOW + 60), KEY);
    cr_assert_eq(td_auth_verify(a, good, NOW, sub, sizeof sub), TD_AUTH_OK);

    /* Payload swapped for another user's, signature kept. */
    char *evil = craft(HS256, claims("{\"sub\":\"admin\",\"exp\":%ld}", (long)NOW + 60), OTHER);
    const char *gd1 = strchr(good, '.'), *gd2 = strrchr(good, '.');
    const char *ed1 = strchr(evil, '.'), *ed2 = strrchr(evil, '.');
    char tok[512];
    snprintf(tok, sizeof tok, "%.*s.%.*s%s", (int)(gd1 - good), good, (int)(ed2 - ed1 - 1),
             ed1 + 1, gd2);
    cr_assert_eq(td_auth_verify(a, tok, NOW, sub, sizeof sub), TD_AUTH_BAD_SIGNATURE);

    /* One signature character changed. */
    snprintf(tok, sizeof tok, "%s", good);
    char *last = tok + strlen(tok) - 5;
    *last = *last == 'A' ? 'B' : 'A';
    cr_assert_eq(td_auth_verify(a, tok, NOW, sub, sizeof sub), TD_AUTH_BAD_SIGNATURE);

    /* The same signature bytes spelled non-canonically (unused low bits of the last
     * character set): one token, one spelling. */
    snprintf(tok, sizeof tok, "%s", good);
    last = tok + strlen(tok) - 1;
    const char *al = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    *last = al[(strchr(al, *last) - al) ^ 1];
    cr_assert_neq(td_auth_verify(a, tok, NOW, sub, sizeof sub), TD_AUTH_OK);

    /* Padding, whitespace, a fourth part, a truncated signature. */
    const char *suffixes[] = {"=", " ", ".x", "\n"};
    for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
        snprintf(tok, sizeof tok, "%s%s", good, suffixes[i]);
        cr_assert_neq(td_auth_verify(a, tok, NOW, sub, sizeof sub), TD_AUTH_OK, "%zu", i);
    }
    snprintf(tok, sizeof tok, "%s", good);
    tok[strlen(tok) - 1] = '\0';
    cr_assert_neq(td_auth_verify(a, tok, NOW, sub, sizeof sub), TD_AUTH_OK);
    free(good);
    free(evil);
    td_auth_free(a);
}

/* ---------- issuer and audience ---------- */

Test(auth, issuer_and_audience_checked_when_configured)
{
    struct td_auth *a = make_auth("iss-a", "todod", 60);
    char sub[32];
    long exp = (long)NOW + 60;
    cr_assert_eq(verify_claims(a, claims("{\"sub\":\"a\",\"exp\":%ld,\"iss\":\"iss-a\","
                                         "\"aud\":\"todod\"}", exp), sub, sizeof sub),
                 TD_AUTH_OK);
    cr_assert_eq(verify_claims(a, claims("{\"sub\":\"a\",\"exp\":%ld,\"iss\":\"iss-b\","
                                         "\"aud\":\"todod\"}", exp), sub, sizeof sub),
                 TD_AUTH_BAD_ISSUER);
    cr_assert_eq(verify_claims(a, claims("{\"sub\":\"a\",\"exp\":%ld,\"aud\":\"todod\"}", exp),
                               sub, sizeof sub), TD_AUTH_BAD_ISSUER);
    cr_assert_eq(verify_claims(a, claims("{\"sub\":\"a\",\"exp\":%ld,\"iss\":\"iss-a\","
                                         "\"aud\":\"other\"}", exp), sub, sizeof sub),
                 TD_AUTH_BAD_AUDIENCE);
    cr_assert_eq(verify_claims(a, claims("{\"sub\":\"a\",\"exp\":%ld,\"iss\":\"iss-a\"}", exp),
                               sub, sizeof sub), TD_AUTH_BAD_AUDIENCE);
    cr_assert_eq(verify_claims(a, claims("{\"sub\":\"a\",\"exp\":%ld,\"iss\":\"iss-a\","
                                         "\"aud\":[\"x\",\"todod\"]}", exp), sub, sizeof sub),
                 TD_AUTH_OK);
    cr_assert_eq(verify_claims(a, claims("{\"sub\":\"a\",\"exp\":%ld,\"iss\":\"iss-a\","
                                         "\"aud\":[\"x\",\"y\"]}", exp), sub, sizeof sub),
                 TD_AUTH_BAD_AUDIENCE);
    cr_assert_eq(verify_claims(a, claims("{\"sub\":\"a\",\"exp\":%ld,\"iss\":\"iss-a\","
                                         "\"aud\":[]}", exp), sub, sizeof sub),
                 TD_AUTH_BAD_AUDIENCE);
    td_auth_free(a);

    /* Not configured: whatever iss/aud a token carries is not our business. */
    a = make_auth(NULL, NULL, 60);
    cr_assert_eq(verify_claims(a, claims("{\"sub\":\"a\",\"exp\":%ld,\"iss\":\"x\","
                                         "\"aud\":\"y\"}", exp), sub, sizeof sub), TD_AUTH_OK);
    td_auth_free(a);
}

/* ---------- garbage ---------- */

Test(auth, garbage_refused_without_crash)
{
    struct td_auth *a = make_auth(NULL, NULL, 60);
    char sub[32];
    const char *bad[] = {"", ".", "..", "...", "a.b", "a.b.c", "a..c", ".b.c",
                         "eyJhbGciOiJIUzI1NiJ9", "eyJhbGciOiJIUzI1NiJ9..",
                         "!!!.@@@.###", "eyJhbGciOiJIUzI1NiJ9.e30.", "bnVsbA.e30.e30"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_assert_neq(td_auth_verify(a, bad[i], NOW, sub, sizeof sub), TD_AUTH_OK, "%s", bad[i]);
    cr_assert_eq(td_auth_verify(a, NULL, NOW, sub, sizeof sub), TD_AUTH_MALFORMED);
    cr_assert_eq(td_auth_verify(a, "a.b", NOW, sub, sizeof sub), TD_AUTH_MALFORMED);

    size_t n = 10 * 1024;
    char *huge = malloc(n + 1);
    memset(huge, 'A', n);
    huge[n] = '\0';
    cr_assert_neq(td_auth_verify(a, huge, NOW, sub, sizeof sub), TD_AUTH_OK);
    huge[n / 3] = huge[2 * n / 3] = '.';
    cr_assert_neq(td_auth_verify(a, huge, NOW, sub, sizeof sub), TD_AUTH_OK);
    free(huge);

    /* A correctly signed token with a 10 KB claim is refused by size, not crash. */
    char *big = malloc(n + 64);
    int len = snprintf(big, n + 64, "{\"sub\":\"a\",\"exp\":%ld,\"pad\":\"", (long)NOW + 60);
    memset(big + len, 'x', n);
    strcpy(big + len + n, "\"}");
    char *t = craft(HS256, big, KEY);
    cr_assert_eq(td_auth_verify(a, t, NOW, sub, sizeof sub), TD_AUTH_MALFORMED);
    free(t);
    free(big);

    /* Signed, but the payload is not a JSON object. */
    const char *notobj[] = {"[]", "\"a\"", "42", "{", "null"};
    for (size_t i = 0; i < sizeof notobj / sizeof *notobj; i++) {
        t = craft(HS256, notobj[i], KEY);
        cr_assert_eq(td_auth_verify(a, t, NOW, sub, sizeof sub), TD_AUTH_MALFORMED, "%s",
                     notobj[i]);
        free(t);
    }
    /* Header that is not JSON. */
    t = craft("not json", "{}", KEY);
    cr_assert_eq(td_auth_verify(a, t, NOW, sub, sizeof sub), TD_AUTH_MALFORMED);
    free(t);
    td_auth_free(a);
}

/* ---------- passwords ---------- */

struct pw_result {
    int   calls;
    int   status;
    int   match;
    char *encoded;
};

static void on_hash(int status, const char *encoded, void *arg)
{
    struct pw_result *r = arg;
    r->calls++;
    r->status = status;
    r->encoded = encoded ? strdup(encoded) : NULL;
}

static void on_verify(int status, int match, void *arg)
{
    struct pw_result *r = arg;
    r->calls++;
    r->status = status;
    r->match = match;
}

static uv_loop_t loop;

static void loop_setup(void)
{
    cr_assert_eq(uv_loop_init(&loop), 0);
}

static void loop_teardown(void)
{
    cr_assert_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
    cr_assert_eq(uv_loop_close(&loop), 0, "every request finished");
}

static char *hash_sync(const char *pw)
{
    struct pw_result r = {0};
    cr_assert_eq(td_auth_hash_password(&loop, pw, on_hash, &r), 0);
    cr_assert_eq(r.calls, 0, "callback runs on the loop, not inline");
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(r.calls, 1);
    cr_assert_eq(r.status, 0);
    cr_assert_not_null(r.encoded);
    return r.encoded;
}

static struct pw_result verify_sync(const char *encoded, const char *pw)
{
    struct pw_result r = {0};
    cr_assert_eq(td_auth_verify_password(&loop, encoded, pw, on_verify, &r), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(r.calls, 1);
    return r;
}

Test(password, hash_then_verify, .init = loop_setup, .fini = loop_teardown)
{
    char *enc = hash_sync("correct horse battery staple");
    cr_assert_eq(strncmp(enc, "$argon2id$v=19$m=19456,t=2,p=1$", 31), 0, "%s", enc);
    struct pw_result r = verify_sync(enc, "correct horse battery staple");
    cr_assert_eq(r.status, 0);
    cr_assert_eq(r.match, 1);
    r = verify_sync(enc, "correct horse battery stapler");
    cr_assert_eq(r.status, 0);
    cr_assert_eq(r.match, 0);
    r = verify_sync(enc, "");
    cr_assert_eq(r.match, 0);
    free(enc);
}

/* Our hashes are computed through argon2_ctx and encoded by core/phc.c: libargon2's own
 * verifier must take them, and ours must take what libargon2 wrote (every hash already
 * stored), whatever its parameters. */
Test(password, hashes_are_interchangeable_with_libargon2, .init = loop_setup, .fini = loop_teardown)
{
    char *enc = hash_sync("interop password");
    cr_expect_eq(argon2id_verify(enc, "interop password", 16), ARGON2_OK, "%s", enc);
    cr_expect_eq(argon2id_verify(enc, "interop passworD", 16), ARGON2_VERIFY_MISMATCH);
    free(enc);

    const unsigned char salt[12] = "twelve bytes";
    struct { uint32_t t, m, p, v; } params[] = {
        {2, 19456, 1, ARGON2_VERSION_13}, {3, 4096, 2, ARGON2_VERSION_13}, {1, 64, 1, ARGON2_VERSION_10},
    };
    for (size_t i = 0; i < sizeof params / sizeof params[0]; i++) {
        char theirs[256];
        unsigned char raw[24];
        cr_assert_eq(argon2_hash(params[i].t, params[i].m, params[i].p, "stored", 6, salt, sizeof salt,
                                 raw, sizeof raw, theirs, sizeof theirs, Argon2_id, params[i].v),
                     ARGON2_OK);
        struct pw_result r = verify_sync(theirs, "stored");
        cr_expect_eq(r.status, 0, "%s", theirs);
        cr_expect_eq(r.match, 1, "%s", theirs);
        r = verify_sync(theirs, "Stored");
        cr_expect_eq(r.status, 0);
        cr_expect_eq(r.match, 0, "%s", theirs);
    }
}

Test(password, same_password_hashes_differ, .init = loop_setup, .fini = loop_teardown)
{
    char *a = hash_sync("hunter2"), *b = hash_sync("hunter2");
    cr_assert_str_neq(a, b, "salt is random");
    cr_assert_eq(verify_sync(a, "hunter2").match, 1);
    cr_assert_eq(verify_sync(b, "hunter2").match, 1);
    free(a);
    free(b);
}

Test(password, null_encoded_never_matches, .init = loop_setup, .fini = loop_teardown)
{
    struct pw_result r = verify_sync(NULL, "anything");
    cr_assert_eq(r.status, 0);
    cr_assert_eq(r.match, 0);
    r = verify_sync(NULL, "");
    cr_assert_eq(r.match, 0);
}

Test(password, bad_encoded_is_an_error, .init = loop_setup, .fini = loop_teardown)
{
    struct pw_result r = verify_sync("$argon2id$garbage", "pw");
    cr_assert_lt(r.status, 0);
    cr_assert_eq(r.match, 0);
    r = verify_sync("", "pw");
    cr_assert_lt(r.status, 0);
    cr_assert_eq(r.match, 0);
}

Test(password, length_limit, .init = loop_setup, .fini = loop_teardown)
{
    char pw[1026];
    memset(pw, 'p', 1025);
    pw[1025] = '\0';
    struct pw_result r = {0};
    cr_assert_eq(td_auth_hash_password(&loop, pw, on_hash, &r), -EINVAL);
    cr_assert_eq(td_auth_verify_password(&loop, NULL, pw, on_verify, &r), -EINVAL);
    cr_assert_eq(td_auth_hash_password(&loop, NULL, on_hash, &r), -EINVAL);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(r.calls, 0, "refused synchronously, no callback");

    pw[1024] = '\0'; /* exactly 1024 is allowed */
    char *enc = hash_sync(pw);
    cr_assert_eq(verify_sync(enc, pw).match, 1);
    pw[1023] = 'q';
    cr_assert_eq(verify_sync(enc, pw).match, 0, "every byte counts");
    free(enc);
}

/* Eight logins at once: two run (each argon2id holds 19 MiB), six wait their turn, and
 * every one is answered. */
Test(password, concurrent_hashes_are_bounded, .init = loop_setup, .fini = loop_teardown)
{
    char *encoded = hash_sync("burst password");
    struct pw_result r[8] = {{0}};
    for (int i = 0; i < 8; i++)
        cr_assert_eq(td_auth_verify_password(&loop, encoded, "burst password", on_verify, &r[i]), 0);
    int running, waiting;
    td_auth_password_jobs(&running, &waiting);
    cr_expect_eq(running, 2);
    cr_expect_eq(waiting, 6);
    uv_run(&loop, UV_RUN_DEFAULT);
    for (int i = 0; i < 8; i++) {
        cr_expect_eq(r[i].calls, 1, "verification %d answered %d times", i, r[i].calls);
        cr_expect_eq(r[i].match, 1);
    }
    td_auth_password_jobs(&running, &waiting);
    cr_expect_eq(running + waiting, 0);
    free(encoded);
}
