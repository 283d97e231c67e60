/* Token buckets keyed by a string (user id, client address, account email).
 * Bounded memory: the least recently used keys are forgotten past max_keys. */
#ifndef TD_RATELIMIT_H
#define TD_RATELIMIT_H
#include <stddef.h>
#include <stdint.h>

struct td_ratelimit;

/* rate: tokens added per second; burst: bucket size. rate 0 disables the limiter
 * (every take succeeds). */
int  td_ratelimit_new(double rate, double burst, size_t max_keys, struct td_ratelimit **out);
void td_ratelimit_free(struct td_ratelimit *rl);
/* Takes one token for key at now_ms (monotonic milliseconds). Returns 1 when allowed;
 * 0 when limited, with *retry_after_s set to the whole seconds until a token is back
 * (at least 1). */
int  td_ratelimit_take(struct td_ratelimit *rl, const char *key, uint64_t now_ms,
                       int *retry_after_s);
/* Forgets key (e.g. after a successful login). */
void td_ratelimit_reset(struct td_ratelimit *rl, const char *key);

#endif
