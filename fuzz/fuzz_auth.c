/* td_auth_verify on arbitrary tokens, with a fixed 32+ byte key and issuer/audience checks
 * on. A random token never carries a valid HMAC, so inputs starting with '!' are turned
 * into signed tokens first: "!<header JSON>\n<payload JSON>" is base64url-encoded and
 * signed with the key, which lets the fuzzer reach the claims checks. */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/auth.h"

#define SECRET "fuzz-secret-0123456789abcdef-0123456789"
#define NOW 1700000000

static struct td_auth *strict, *plain;

static void init(void)
{
    struct td_auth_opts o = {.secret = SECRET, .issuer = "https://todod.test",
                             .audience = "todod", .leeway_s = 30};
    struct td_auth_opts p = {.secret = SECRET};
    if (td_auth_new(&o, &strict) != 0 || td_auth_new(&p, &plain) != 0)
        abort();
}

static size_t b64url(const unsigned char *in, size_t n, char *out)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = a[v >> 18], out[o++] = a[(v >> 12) & 63], out[o++] = a[(v >> 6) & 63],
        out[o++] = a[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = a[v >> 18], out[o++] = a[(v >> 12) & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = a[v >> 18], out[o++] = a[(v >> 12) & 63], out[o++] = a[(v >> 6) & 63];
    }
    return o;
}

/* "!header\npayload" -> "b64(header).b64(payload).b64(hmac)" (malloc'd). */
static char *sign(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    if (!nl)
        return NULL;
    size_t hl = (size_t)(nl - data), pl = size - hl - 1;
    char *tok = malloc((size + 32) * 4 / 3 + 64);
    if (!tok)
        return NULL;
    size_t o = b64url(data, hl, tok);
    tok[o++] = '.';
    o += b64url(nl + 1, pl, tok + o);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned maclen = 0;
    if (!HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET), (unsigned char *)tok, o, mac, &maclen)) {
        free(tok);
        return NULL;
    }
    tok[o++] = '.';
    o += b64url(mac, maclen, tok + o);
    tok[o] = '\0';
    return tok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!strict)
        init();
    char *tok;
    if (size && data[0] == '!') {
        tok = sign(data + 1, size - 1);
    } else {
        tok = malloc(size + 1);
        if (tok) {
            memcpy(tok, data, size);
            tok[size] = '\0';
        }
    }
    if (!tok)
        return 0;
    char sub[65];
    memset(sub, 'x', sizeof sub);
    enum td_auth_error e = td_auth_verify(strict, tok, NOW, sub, sizeof sub);
    if (e == TD_AUTH_OK ? strlen(sub) == 0 : sub[0] != '\0') {
        fprintf(stderr, "verify returned %d with sub \"%.64s\"\n", (int)e, sub);
        abort();
    }
    if (!td_auth_error_text(e))
        abort();
    char small[8];
    e = td_auth_verify(plain, tok, NOW, small, sizeof small);
    if (e == TD_AUTH_OK && strlen(small) >= sizeof small)
        abort();
    td_auth_verify(plain, tok, NOW, NULL, 0);
    free(tok);
    return 0;
}
