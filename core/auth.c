/* core/auth.c: HS256 JWTs (issued with libjwt, verified here) and argon2id password
 * hashes on the libuv thread pool.
 *
 * Verification is done by hand rather than with jwt_decode(): it runs on every API
 * request, so it decodes into stack buffers, reuses one HMAC context, and checks the
 * header's "alg" before anything else. Doing it ourselves also keeps the list of
 * accepted algorithms at exactly one (HS256), so "none" and RS256/HS256 confusion
 * (algorithm switching) cannot reach a signature check at all. */
#include "core/auth.h"
#include "core/base64.h"

#include <argon2.h>
#include <errno.h>
#include <jansson.h>
#include <jwt.h>
#include <limits.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>

#include "core/phc.h"

#define SECRET_MIN 32
#define LEEWAY_MAX 60
#define TTL_DEFAULT 86400
/* Our tokens are ~250 bytes; 8 KiB covers any sane third-party claim set and bounds
 * the stack buffers below (HTTP header limits are in the same range). */
#define TOKEN_MAX 8192
#define HEADER_MAX 512 /* decoded JOSE header: {"alg":"HS256","typ":"JWT"} plus a kid */
#define SIG_LEN 32     /* HMAC-SHA256 */
#define SIG_B64_LEN 43 /* its unpadded base64url spelling */
#define PASSWORD_MAX 1024
#define ENCODED_MAX 512 /* a PHC string with our parameters is 97 bytes */

/* OWASP's minimum for argon2id: 19 MiB, 2 passes, 1 lane. */
#define A2_T 2
#define A2_M 19456
#define A2_P 1
#define A2_SALT 16
#define A2_HASH 32

/* Verified when the account does not exist, so that "no such user" costs the same
 * as "wrong password". Same parameters as real hashes; its password is random and
 * was thrown away. */
static const char dummy_hash[] =
    "$argon2id$v=19$m=19456,t=2,p=1$s6NpGYw2ERZ34wyb7Q2s5Q$"
    "QJQB/E0xbI2Poe9bq1XYqvBz1loNXLKjpoZ1StRbXq0";

struct td_auth {
    unsigned char *secret; /* owned, wiped on free */
    size_t         secret_len;
    char          *issuer;   /* owned; NULL when not configured */
    char          *audience; /* owned; NULL when not configured */
    int            leeway_s;
    int            ttl_s;
    EVP_MAC       *mac;      /* owned */
    EVP_MAC_CTX   *hmac;     /* owned; keyed once, re-initialised per verify. This makes
                                verify non-reentrant: td_auth lives on one loop thread,
                                like every td_* object that is not documented otherwise. */
};

/* ---------- lifetime ---------- */

static char *dup_opt(const char *s, int *rc)
{
    /* "" is treated as unset: an empty TODOD_JWT_ISSUER means "no issuer", not
     * "require iss to be the empty string". */
    if (!s || !*s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *rc = -ENOMEM;
    return d;
}

int td_auth_new(const struct td_auth_opts *opts, struct td_auth **out)
{
    if (!opts || !out || !opts->secret)
        return -EINVAL;
    *out = NULL;
    size_t klen = strlen(opts->secret);
    /* RFC 7518 3.2: an HS256 key must be at least as long as the hash output. */
    if (klen < SECRET_MIN || klen > INT_MAX)
        return -EINVAL;
    if (opts->leeway_s < 0 || opts->token_ttl_s < 0)
        return -EINVAL;

    struct td_auth *a = calloc(1, sizeof *a);
    if (!a)
        return -ENOMEM;
    int rc = 0;
    a->secret_len = klen;
    a->secret = malloc(klen);
    if (!a->secret) {
        rc = -ENOMEM;
        goto fail;
    }
    memcpy(a->secret, opts->secret, klen);
    a->issuer = dup_opt(opts->issuer, &rc);
    a->audience = dup_opt(opts->audience, &rc);
    if (rc)
        goto fail;
    /* Skew beyond a minute means a broken clock, not a reason to accept old tokens. */
    a->leeway_s = opts->leeway_s > LEEWAY_MAX ? LEEWAY_MAX : opts->leeway_s;
    a->ttl_s = opts->token_ttl_s ? opts->token_ttl_s : TTL_DEFAULT;

    a->mac = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL);
    a->hmac = a->mac ? EVP_MAC_CTX_new(a->mac) : NULL;
    if (!a->hmac) {
        rc = -ENOMEM;
        goto fail;
    }
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    if (!EVP_MAC_init(a->hmac, a->secret, a->secret_len, params)) {
        rc = -EINVAL;
        goto fail;
    }
    *out = a;
    return 0;
fail:
    td_auth_free(a);
    return rc;
}

void td_auth_free(struct td_auth *auth)
{
    if (!auth)
        return;
    if (auth->secret) {
        OPENSSL_cleanse(auth->secret, auth->secret_len);
        free(auth->secret);
    }
    free(auth->issuer);
    free(auth->audience);
    EVP_MAC_CTX_free(auth->hmac); /* clears its key schedule */
    EVP_MAC_free(auth->mac);
    free(auth);
}

const char *td_auth_error_text(enum td_auth_error e)
{
    switch (e) {
    case TD_AUTH_OK:            return "ok";
    case TD_AUTH_MALFORMED:     return "malformed token";
    case TD_AUTH_BAD_ALGORITHM: return "token algorithm must be HS256";
    case TD_AUTH_BAD_SIGNATURE: return "bad token signature";
    case TD_AUTH_EXPIRED:       return "token expired";
    case TD_AUTH_NOT_YET_VALID: return "token not yet valid";
    case TD_AUTH_NO_EXPIRY:     return "token has no expiry";
    case TD_AUTH_NO_SUBJECT:    return "token has no subject";
    case TD_AUTH_BAD_ISSUER:    return "wrong token issuer";
    case TD_AUTH_BAD_AUDIENCE:  return "wrong token audience";
    }
    return "invalid token";
}

/* ---------- verification ---------- */

/* Strict base64url (RFC 7515 2): URL alphabet, no padding, no whitespace, and unused
 * trailing bits zero, so each byte string has exactly one accepted spelling.
 * Returns the decoded length or -1. */
static long b64url_decode(const char *in, size_t len, unsigned char *out, size_t cap)
{
    if (len % 4 == 1 || (len / 4) * 3 + (len % 4 ? len % 4 - 1 : 0) > cap)
        return -1;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = td_base64_value((unsigned char)in[i], 1);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v; /* only the low bits matter; wrap is fine */
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    if (acc & ((1u << bits) - 1)) /* leftover bits must be zero */
        return -1;
    return (long)o;
}

static json_t *parse_object(const unsigned char *buf, size_t len)
{
    /* Duplicate names are refused: {"sub":"a","sub":"b"} must not mean different
     * things to different parsers. \u0000 is refused by default (no JSON_ALLOW_NUL). */
    json_t *j = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, NULL);
    if (j && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

/* base64url('{"alg":"HS256","typ":"JWT"}'): what libjwt (and most libraries) emit. */
static const char common_header[] = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

static enum td_auth_error check_header(const char *part, size_t len)
{
    /* Fast path: byte-for-byte the header we issue, so no JSON to parse. */
    if (len == sizeof common_header - 1 && memcmp(part, common_header, len) == 0)
        return TD_AUTH_OK;
    unsigned char buf[HEADER_MAX];
    long n = b64url_decode(part, len, buf, sizeof buf);
    json_t *h = n > 0 ? parse_object(buf, (size_t)n) : NULL;
    if (!h)
        return TD_AUTH_MALFORMED;
    enum td_auth_error e = TD_AUTH_OK;
    const char *alg = json_string_value(json_object_get(h, "alg"));
    if (!alg || strcmp(alg, "HS256") != 0)
        e = TD_AUTH_BAD_ALGORITHM;
    else if (json_object_get(h, "crit"))
        e = TD_AUTH_MALFORMED; /* RFC 7515 4.1.11: we understand no extensions */
    json_decref(h);
    return e;
}

/* a > b + leeway, without overflowing when b comes from a hostile token. */
static int later_than(long long a, long long b, int leeway)
{
    if (b > LLONG_MAX - leeway)
        return 0;
    return a > b + leeway;
}

static int get_time(json_t *payload, const char *name, long long *out)
{
    json_t *v = json_object_get(payload, name);
    if (!v)
        return 0;
    if (!json_is_integer(v))
        return -1;
    *out = (long long)json_integer_value(v);
    return 1;
}

static int string_is(json_t *v, const char *want)
{
    const char *s = json_string_value(v);
    return s && strcmp(s, want) == 0;
}

static enum td_auth_error check_claims(struct td_auth *a, json_t *p, time_t now_t,
                                       char *sub, size_t sublen)
{
    long long now = (long long)now_t, exp, nbf, iat;
    int rc = get_time(p, "exp", &exp);
    if (rc == 0)
        return TD_AUTH_NO_EXPIRY;
    if (rc < 0)
        return TD_AUTH_MALFORMED;
    if (later_than(now, exp, a->leeway_s))
        return TD_AUTH_EXPIRED;
    if ((rc = get_time(p, "nbf", &nbf)) < 0)
        return TD_AUTH_MALFORMED;
    if (rc > 0 && later_than(nbf, now, a->leeway_s))
        return TD_AUTH_NOT_YET_VALID;
    /* A token issued in the future comes from a broken or forged clock. */
    if ((rc = get_time(p, "iat", &iat)) < 0)
        return TD_AUTH_MALFORMED;
    if (rc > 0 && later_than(iat, now, a->leeway_s))
        return TD_AUTH_NOT_YET_VALID;

    json_t *s = json_object_get(p, "sub");
    const char *subject = json_string_value(s);
    size_t slen = subject ? json_string_length(s) : 0;
    if (!slen)
        return TD_AUTH_NO_SUBJECT;

    if (a->issuer && !string_is(json_object_get(p, "iss"), a->issuer))
        return TD_AUTH_BAD_ISSUER;
    if (a->audience) {
        json_t *aud = json_object_get(p, "aud"), *v;
        size_t i;
        int found = string_is(aud, a->audience);
        json_array_foreach(aud, i, v) /* no-op unless aud is an array */
            found = found || string_is(v, a->audience);
        if (!found)
            return TD_AUTH_BAD_AUDIENCE;
    }

    if (sub && sublen) {
        if (slen >= sublen) /* never hand back a truncated identity */
            return TD_AUTH_MALFORMED;
        memcpy(sub, subject, slen + 1);
    }
    return TD_AUTH_OK;
}

enum td_auth_error td_auth_verify(struct td_auth *auth, const char *token, time_t now,
                                  char *sub, size_t sublen)
{
    if (sub && sublen)
        *sub = '\0';
    if (!auth || !token)
        return TD_AUTH_MALFORMED;
    size_t len = strnlen(token, TOKEN_MAX + 1);
    if (len > TOKEN_MAX)
        return TD_AUTH_MALFORMED;
    const char *d1 = memchr(token, '.', len);
    const char *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
    if (!d1 || !d2 || d1 == token || d2 == d1 + 1 ||
        memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token)))
        return TD_AUTH_MALFORMED;

    /* 1. The header names the algorithm; only HS256 goes any further. */
    enum td_auth_error e = check_header(token, (size_t)(d1 - token));
    if (e != TD_AUTH_OK)
        return e;

    /* 2. Authenticate before parsing the claims: unauthenticated JSON is only parsed
     *    in the tiny header above. */
    unsigned char sig[SIG_LEN], mac[SIG_LEN];
    const char *sigpart = d2 + 1;
    size_t siglen = len - (size_t)(sigpart - token);
    if (siglen != SIG_B64_LEN) /* empty (alg none style), truncated, or another hash */
        return TD_AUTH_BAD_SIGNATURE;
    if (b64url_decode(sigpart, siglen, sig, sizeof sig) != SIG_LEN)
        return TD_AUTH_MALFORMED;
    size_t maclen = 0;
    if (!EVP_MAC_init(auth->hmac, NULL, 0, NULL) || /* NULL key: reuse the one set in new */
        !EVP_MAC_update(auth->hmac, (const unsigned char *)token, (size_t)(d2 - token)) ||
        !EVP_MAC_final(auth->hmac, mac, &maclen, sizeof mac) || maclen != SIG_LEN)
        return TD_AUTH_BAD_SIGNATURE;
    if (CRYPTO_memcmp(mac, sig, SIG_LEN) != 0)
        return TD_AUTH_BAD_SIGNATURE;

    /* 3. Claims. */
    unsigned char body[TOKEN_MAX / 4 * 3];
    long n = b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), body, sizeof body);
    json_t *payload = n > 0 ? parse_object(body, (size_t)n) : NULL;
    if (!payload)
        return TD_AUTH_MALFORMED;
    e = check_claims(auth, payload, now, sub, sublen);
    json_decref(payload);
    if (e != TD_AUTH_OK && sub && sublen)
        *sub = '\0';
    return e;
}

/* ---------- issuing ---------- */

static int fill_random(void *buf, size_t len)
{
    unsigned char *p = buf;
    while (len) {
        ssize_t n = getrandom(p, len, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

char *td_auth_issue(struct td_auth *auth, const char *sub, time_t now)
{
    if (!auth || !sub || !*sub)
        return NULL;
    /* jti: 128 random bits, hex; lets a revocation list name one token. */
    unsigned char rnd[16];
    char jti[33];
    if (fill_random(rnd, sizeof rnd))
        return NULL;
    for (size_t i = 0; i < sizeof rnd; i++) {
        jti[2 * i] = "0123456789abcdef"[rnd[i] >> 4];
        jti[2 * i + 1] = "0123456789abcdef"[rnd[i] & 15];
    }
    jti[32] = '\0';

    jwt_t *jwt = NULL;
    char *out = NULL;
    if (jwt_new(&jwt) != 0)
        return NULL;
    long iat = (long)now, exp = (long)now + auth->ttl_s;
    if (jwt_set_alg(jwt, JWT_ALG_HS256, auth->secret, (int)auth->secret_len) == 0 &&
        jwt_add_grant(jwt, "sub", sub) == 0 &&
        jwt_add_grant_int(jwt, "iat", iat) == 0 &&
        jwt_add_grant_int(jwt, "exp", exp) == 0 &&
        jwt_add_grant(jwt, "jti", jti) == 0 &&
        (!auth->issuer || jwt_add_grant(jwt, "iss", auth->issuer) == 0) &&
        (!auth->audience || jwt_add_grant(jwt, "aud", auth->audience) == 0))
        out = jwt_encode_str(jwt); /* malloc'd by libjwt's default allocator: free() */
    jwt_free(jwt); /* also wipes libjwt's copy of the key */
    return out;
}

int td_auth_token_ttl(const struct td_auth *auth)
{
    return auth->ttl_s;
}

/* ---------- passwords ---------- */

struct pw_work {
    uv_work_t         req;
    uv_loop_t        *loop;
    struct pw_work   *next;      /* waiting for a turn (see submit) */
    td_auth_hash_cb   hash_cb;   /* exactly one of the two callbacks is set */
    td_auth_verify_cb verify_cb;
    void             *arg;
    int               status;
    int               match;
    int               dummy;     /* verifying against dummy_hash: match is forced to 0 */
    char             *encoded;   /* owned: result of hashing, or a copy of the input */
    size_t            pwlen;
    char              pw[];      /* copy of the password, wiped as soon as it is used */
};

static int map_argon2(int rc)
{
    return rc == ARGON2_MEMORY_ALLOCATION_ERROR ? -ENOMEM : -EINVAL;
}

static void wipe_password(struct pw_work *w)
{
    explicit_bzero(w->pw, w->pwlen); /* not optimised away, unlike memset before free */
    w->pwlen = 0;
}

static void free_work(struct pw_work *w)
{
    wipe_password(w); /* again: a cancelled job never ran its work function */
    free(w->encoded);
    free(w);
}

/* argon2's 19 MiB comes straight from the kernel and goes straight back. From malloc it
 * stayed in the process: after the first free glibc raises its mmap and trim thresholds
 * past that size, so later hashes came from the thread pool's arenas and were kept
 * there (an idle 14 MiB process held 73 MiB after four signups). */
static int map_blocks(uint8_t **memory, size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    *memory = p == MAP_FAILED ? NULL : p;
    if (!*memory)
        return ARGON2_MEMORY_ALLOCATION_ERROR;
    madvise(p, bytes, MADV_DONTDUMP); /* password-derived: keep it out of core files */
    return ARGON2_OK;
}

static void unmap_blocks(uint8_t *memory, size_t bytes)
{
    munmap(memory, bytes); /* argon2 has wiped it already */
}

/* A context for p's parameters and salt; out receives p->hashlen bytes. */
static argon2_context a2_context(struct pw_work *w, struct td_phc *p, uint8_t *out)
{
    return (argon2_context){
        .out = out,
        .outlen = (uint32_t)p->hashlen,
        .pwd = (uint8_t *)w->pw,
        .pwdlen = (uint32_t)w->pwlen,
        .salt = p->salt,
        .saltlen = (uint32_t)p->saltlen,
        .t_cost = p->t_cost,
        .m_cost = p->m_cost,
        .lanes = p->lanes,
        .threads = p->lanes, /* as libargon2's own verify does */
        .version = p->version,
        .allocate_cbk = map_blocks,
        .free_cbk = unmap_blocks,
        .flags = ARGON2_DEFAULT_FLAGS,
    };
}

static void hash_work(uv_work_t *req)
{
    struct pw_work *w = req->data;
    struct td_phc p = {.version = ARGON2_VERSION_13, .m_cost = A2_M, .t_cost = A2_T,
                       .lanes = A2_P, .saltlen = A2_SALT, .hashlen = A2_HASH};
    size_t enclen = argon2_encodedlen(A2_T, A2_M, A2_P, A2_SALT, A2_HASH, Argon2_id);
    w->status = fill_random(p.salt, p.saltlen);
    if (!w->status && !(w->encoded = malloc(enclen)))
        w->status = -ENOMEM;
    if (!w->status) {
        argon2_context ctx = a2_context(w, &p, p.hash);
        int rc = argon2_ctx(&ctx, Argon2_id);
        if (rc != ARGON2_OK)
            w->status = map_argon2(rc);
        else
            w->status = td_phc_encode(&p, w->encoded, enclen);
    }
    wipe_password(w);
}

static void verify_work(uv_work_t *req)
{
    struct pw_work *w = req->data;
    struct td_phc p;
    uint8_t out[TD_PHC_FIELD_MAX];
    int rc = ARGON2_DECODING_FAIL;
    if (td_phc_decode(w->dummy ? dummy_hash : w->encoded, &p) == 0) {
        argon2_context ctx = a2_context(w, &p, out);
        rc = argon2id_verify_ctx(&ctx, (const char *)p.hash);
        explicit_bzero(out, p.hashlen);
    }
    wipe_password(w);
    if (rc == ARGON2_OK)
        w->match = !w->dummy;
    else if (rc != ARGON2_VERIFY_MISMATCH)
        w->status = map_argon2(rc); /* e.g. a stored hash that is not argon2id */
}

/* Each argon2id run holds 19 MiB while it works: at most this many run at once, the
 * rest wait in order. It bounds the process's peak memory under a burst of logins. */
#define HASHES_AT_ONCE 2
static struct pw_work *waiting_head, *waiting_tail;   /* loop thread only */
static int hashing;

static void after_work(uv_work_t *req, int status);

void td_auth_password_jobs(int *running, int *waiting)
{
    int n = 0;
    for (struct pw_work *w = waiting_head; w; w = w->next)
        n++;
    *running = hashing;
    *waiting = n;
}

static int start_work(struct pw_work *w)
{
    int rc = uv_queue_work(w->loop, &w->req, w->hash_cb ? hash_work : verify_work, after_work);
    if (!rc)
        hashing++;
    return rc;
}

static int submit(uv_loop_t *loop, struct pw_work *w)
{
    w->loop = loop;
    if (hashing < HASHES_AT_ONCE)
        return start_work(w);
    if (waiting_tail)
        waiting_tail->next = w;
    else
        waiting_head = w;
    waiting_tail = w;
    return 0;
}

static void start_next(void)
{
    while (waiting_head && hashing < HASHES_AT_ONCE) {
        struct pw_work *w = waiting_head;
        waiting_head = w->next;
        if (!waiting_head)
            waiting_tail = NULL;
        int rc = start_work(w);
        if (rc) {
            w->req.data = w;
            hashing++;          /* after_work gives the slot back */
            after_work(&w->req, rc);
        }
    }
}

static void after_work(uv_work_t *req, int status)
{
    struct pw_work *w = req->data;
    hashing--;
    if (status) /* UV_ECANCELED: the job never ran */
        w->status = status;
    if (w->hash_cb)
        w->hash_cb(w->status, w->status ? NULL : w->encoded, w->arg);
    else
        w->verify_cb(w->status, w->status ? 0 : w->match, w->arg);
    free_work(w);
    start_next();
}

static struct pw_work *new_work(const char *password, void *arg)
{
    size_t len = strlen(password); /* callers checked it against PASSWORD_MAX */
    struct pw_work *w = calloc(1, sizeof *w + len + 1);
    if (!w)
        return NULL;
    memcpy(w->pw, password, len);
    w->pwlen = len;
    w->arg = arg;
    w->req.data = w;
    return w;
}

/* The 1024-byte limit is not argon2's (it would cope): it bounds the copy and the work
 * an unauthenticated client can ask for. */
int td_auth_hash_password(uv_loop_t *loop, const char *password, td_auth_hash_cb cb, void *arg)
{
    if (!loop || !cb || !password || strnlen(password, PASSWORD_MAX + 1) > PASSWORD_MAX)
        return -EINVAL;
    struct pw_work *w = new_work(password, arg);
    if (!w)
        return -ENOMEM;
    w->hash_cb = cb;
    int rc = submit(loop, w);
    if (rc)
        free_work(w);
    return rc;
}

int td_auth_verify_password(uv_loop_t *loop, const char *encoded, const char *password,
                            td_auth_verify_cb cb, void *arg)
{
    if (!loop || !cb || !password || strnlen(password, PASSWORD_MAX + 1) > PASSWORD_MAX)
        return -EINVAL;
    if (encoded && strnlen(encoded, ENCODED_MAX + 1) > ENCODED_MAX)
        return -EINVAL;
    struct pw_work *w = new_work(password, arg);
    if (!w)
        return -ENOMEM;
    w->verify_cb = cb;
    w->dummy = encoded == NULL;
    if (encoded && !(w->encoded = strdup(encoded))) {
        free_work(w);
        return -ENOMEM;
    }
    int rc = submit(loop, w);
    if (rc)
        free_work(w);
    return rc;
}
