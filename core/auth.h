/* Authentication shared by every role that serves /api: HS256 JWTs (libjwt) and
 * argon2id password hashes (libargon2). No libjwt or argon2 type leaves core/auth.c. */
#ifndef TD_AUTH_H
#define TD_AUTH_H
#include <stddef.h>
#include <time.h>
#include <uv.h>

struct td_auth_opts {
    const char *secret;        /* HS256 key, >= 32 bytes; copied */
    const char *issuer;        /* checked ("iss") and issued when non-NULL */
    const char *audience;      /* checked ("aud", string or array) and issued when non-NULL */
    int         leeway_s;      /* clock skew allowed on exp/nbf/iat; at most 60 */
    int         token_ttl_s;   /* lifetime of tokens we issue (default 86400) */
};

struct td_auth;

int  td_auth_new(const struct td_auth_opts *opts, struct td_auth **out);
void td_auth_free(struct td_auth *auth);

/* Why a token was refused; stable strings for problem details. */
enum td_auth_error {
    TD_AUTH_OK = 0,
    TD_AUTH_MALFORMED,       /* not three base64url parts, bad JSON */
    TD_AUTH_BAD_ALGORITHM,   /* alg is not HS256 (none, RS256, ...) */
    TD_AUTH_BAD_SIGNATURE,
    TD_AUTH_EXPIRED,
    TD_AUTH_NOT_YET_VALID,   /* nbf in the future */
    TD_AUTH_NO_EXPIRY,       /* exp missing */
    TD_AUTH_NO_SUBJECT,      /* sub missing or empty */
    TD_AUTH_BAD_ISSUER,
    TD_AUTH_BAD_AUDIENCE,
};
const char *td_auth_error_text(enum td_auth_error e);

/* Verifies a compact JWS. On success copies "sub" into sub (NUL-terminated, truncated
 * tokens whose sub does not fit are refused as malformed) and returns TD_AUTH_OK.
 * now: unix time (pass time(NULL); tests pass others). */
enum td_auth_error td_auth_verify(struct td_auth *auth, const char *token, time_t now,
                                  char *sub, size_t sublen);

/* Issues a token for sub with iat=now, exp=now+ttl (and iss/aud when configured).
 * Returns a malloc'd string or NULL. */
char *td_auth_issue(struct td_auth *auth, const char *sub, time_t now);
/* The ttl td_auth_issue uses (exp - iat of every token it issues), in seconds: what a
 * login answer reports as expires_in. */
int   td_auth_token_ttl(const struct td_auth *auth);

/* Password hashing on the libuv thread pool (argon2id takes tens of ms: never on the
 * loop). The callback runs on the loop. encoded is the PHC string
 * "$argon2id$v=19$m=...,t=...,p=...$salt$hash", malloc'd, owned by the callback's
 * caller only during the call. status 0 or negative errno. */
typedef void (*td_auth_hash_cb)(int status, const char *encoded, void *arg);
typedef void (*td_auth_verify_cb)(int status, int match, void *arg);
int td_auth_hash_password(uv_loop_t *loop, const char *password, td_auth_hash_cb cb, void *arg);
/* encoded may be NULL: a dummy hash is verified so that unknown accounts take as long
 * as known ones (match is then 0). */
int td_auth_verify_password(uv_loop_t *loop, const char *encoded, const char *password,
                            td_auth_verify_cb cb, void *arg);

/* Password jobs running on the thread pool and waiting for a turn (at most two run at
 * once: each holds 19 MiB). For metrics and tests. */
void td_auth_password_jobs(int *running, int *waiting);

#endif
