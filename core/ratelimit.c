/* core/ratelimit.c: token buckets keyed by string, in a chained hash table whose
 * entries also sit on an LRU list, so that the oldest key is dropped in O(1) once
 * max_keys are tracked.
 *
 * Keys come from clients (addresses, e-mail addresses), so the hash is SipHash with a
 * random per-limiter key: nobody can aim many keys at one chain. */
#include "core/ratelimit.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* Longer keys are cut: memory stays bounded by max_keys * KEY_MAX whatever the
 * clients send, and keys sharing a 256-byte prefix sharing a bucket only ever makes
 * the limiter stricter. */
#define KEY_MAX 256
#define BUCKETS_MIN 64

struct entry {
    struct entry *hnext;            /* hash chain */
    struct entry *prev, *next;      /* LRU list: head is most recent */
    uint64_t      hash;
    uint64_t      last_ms;          /* when tokens was last brought up to date */
    double        tokens;
    size_t        keylen;
    char          key[];
};

struct td_ratelimit {
    double         rate;    /* tokens per second; 0: disabled */
    double         burst;
    size_t         max_keys;
    size_t         count;
    size_t         nbuckets; /* power of two */
    struct entry **buckets;  /* owned */
    struct entry  *head, *tail;
    uint64_t       k0, k1;   /* SipHash key */
};

/* ---------- SipHash-2-4 (Aumasson & Bernstein), 64-bit output ---------- */

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                            \
    do {                                                                    \
        v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);           \
        v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                              \
        v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                              \
        v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);           \
    } while (0)

static uint64_t load64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t siphash(uint64_t k0, uint64_t k1, const unsigned char *in, size_t len)
{
    uint64_t v0 = k0 ^ 0x736f6d6570736575ULL, v1 = k1 ^ 0x646f72616e646f6dULL;
    uint64_t v2 = k0 ^ 0x6c7967656e657261ULL, v3 = k1 ^ 0x7465646279746573ULL;
    size_t end = len - len % 8;
    for (size_t i = 0; i < end; i += 8) {
        uint64_t m = load64(in + i);
        v3 ^= m;
        SIPROUND;
        SIPROUND;
        v0 ^= m;
    }
    uint64_t b = (uint64_t)len << 56;
    for (size_t i = 0; i < len % 8; i++)
        b |= (uint64_t)in[end + i] << (8 * i);
    v3 ^= b;
    SIPROUND;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

/* ---------- lifetime ---------- */

int td_ratelimit_new(double rate, double burst, size_t max_keys, struct td_ratelimit **out)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    if (!isfinite(rate) || rate < 0 || !isfinite(burst) || burst < 0 || max_keys == 0)
        return -EINVAL;
    struct td_ratelimit *rl = calloc(1, sizeof *rl);
    if (!rl)
        return -ENOMEM;
    rl->rate = rate;
    /* A bucket that cannot hold one token would refuse everything; callers derive burst
     * from the rate (e.g. 2 * 0.3/s), so round it up rather than fail start-up. */
    rl->burst = burst < 1 ? 1 : burst;
    rl->max_keys = max_keys;
    uint64_t seed[2];
    if (getrandom(seed, sizeof seed, GRND_NONBLOCK) != (ssize_t)sizeof seed) {
        /* Only before the kernel pool is ready; a weaker seed beats not starting. */
        seed[0] = (uint64_t)(uintptr_t)rl * 0x9e3779b97f4a7c15ULL;
        seed[1] = (uint64_t)(uintptr_t)&seed ^ 0xc2b2ae3d27d4eb4fULL;
    }
    rl->k0 = seed[0];
    rl->k1 = seed[1];
    *out = rl;
    return 0;
}

static void clear_all(struct td_ratelimit *rl)
{
    struct entry *e = rl->head;
    while (e) {
        struct entry *next = e->next;
        free(e);
        e = next;
    }
    rl->head = rl->tail = NULL;
    rl->count = 0;
    if (rl->buckets)
        memset(rl->buckets, 0, rl->nbuckets * sizeof *rl->buckets);
}

void td_ratelimit_free(struct td_ratelimit *rl)
{
    if (!rl)
        return;
    clear_all(rl);
    free(rl->buckets);
    free(rl);
}

/* ---------- table ---------- */

static size_t key_len(const char *key)
{
    return strnlen(key, KEY_MAX);
}

static struct entry **slot_of(struct td_ratelimit *rl, uint64_t hash, const char *key,
                              size_t keylen)
{
    struct entry **p = &rl->buckets[hash & (rl->nbuckets - 1)];
    for (; *p; p = &(*p)->hnext)
        if ((*p)->hash == hash && (*p)->keylen == keylen && memcmp((*p)->key, key, keylen) == 0)
            break;
    return p;
}

static void lru_unlink(struct td_ratelimit *rl, struct entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        rl->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        rl->tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_push_front(struct td_ratelimit *rl, struct entry *e)
{
    e->prev = NULL;
    e->next = rl->head;
    if (rl->head)
        rl->head->prev = e;
    rl->head = e;
    if (!rl->tail)
        rl->tail = e;
}

/* Unlinks and frees e; *slot is the chain pointer that points at it. */
static void remove_entry(struct td_ratelimit *rl, struct entry **slot, struct entry *e)
{
    *slot = e->hnext;
    lru_unlink(rl, e);
    rl->count--;
    free(e);
}

static void evict_oldest(struct td_ratelimit *rl)
{
    struct entry *e = rl->tail;
    struct entry **slot = slot_of(rl, e->hash, e->key, e->keylen);
    remove_entry(rl, slot, e);
}

/* Doubles the table while it holds more keys than buckets, up to the size max_keys
 * needs; failure to grow only lengthens chains. */
static void maybe_grow(struct td_ratelimit *rl)
{
    if (rl->buckets && (rl->count < rl->nbuckets || rl->nbuckets >= rl->max_keys))
        return;
    size_t n = rl->buckets ? rl->nbuckets * 2 : BUCKETS_MIN;
    struct entry **b = calloc(n, sizeof *b);
    if (!b)
        return;
    for (struct entry *e = rl->head; e; e = e->next) {
        size_t i = e->hash & (n - 1);
        e->hnext = b[i];
        b[i] = e;
    }
    free(rl->buckets);
    rl->buckets = b;
    rl->nbuckets = n;
}

/* ---------- operations ---------- */

int td_ratelimit_take(struct td_ratelimit *rl, const char *key, uint64_t now_ms,
                      int *retry_after_s)
{
    if (retry_after_s)
        *retry_after_s = 0;
    if (!rl || rl->rate == 0 || !key)
        return 1;
    maybe_grow(rl);
    if (!rl->buckets)
        return 1; /* out of memory: fail open, the limiter protects, it must not deny */

    size_t keylen = key_len(key);
    uint64_t hash = siphash(rl->k0, rl->k1, (const unsigned char *)key, keylen);
    struct entry **slot = slot_of(rl, hash, key, keylen);
    struct entry *e = *slot;
    if (e) {
        /* Monotonic time only moves forward; if a caller mixes clocks, just don't refill. */
        if (now_ms > e->last_ms) {
            e->tokens += (double)(now_ms - e->last_ms) * rl->rate / 1000.0;
            if (e->tokens > rl->burst)
                e->tokens = rl->burst;
            e->last_ms = now_ms;
        }
        lru_unlink(rl, e);
    } else {
        if (rl->count >= rl->max_keys) {
            evict_oldest(rl);
            slot = slot_of(rl, hash, key, keylen); /* eviction may have edited our chain */
        }
        e = malloc(sizeof *e + keylen + 1);
        if (!e)
            return 1; /* fail open, as above */
        e->hash = hash;
        e->keylen = keylen;
        memcpy(e->key, key, keylen);
        e->key[keylen] = '\0';
        e->tokens = rl->burst;
        e->last_ms = now_ms;
        e->hnext = NULL;
        *slot = e;
        rl->count++;
    }
    lru_push_front(rl, e);

    /* The epsilon absorbs rounding in the refill (12 s at 1/12 per s must give a whole
     * token, not 0.9999999), so a client that waited retry_after is let in. */
    if (e->tokens >= 1 - 1e-9) {
        e->tokens = e->tokens > 1 ? e->tokens - 1 : 0;
        return 1;
    }
    if (retry_after_s) {
        /* Whole seconds until the deficit has refilled, rounded up, so that a client
         * that waits that long finds a token (unless another request spent it). The
         * epsilon keeps 1/(1/49) = 49.00000000000001 from announcing 50 s. */
        double s = ceil((1 - e->tokens) / rl->rate - 1e-9);
        *retry_after_s = s < 1 ? 1 : s > INT_MAX ? INT_MAX : (int)s;
    }
    return 0;
}

void td_ratelimit_reset(struct td_ratelimit *rl, const char *key)
{
    if (!rl || !key || !rl->buckets)
        return;
    size_t keylen = key_len(key);
    uint64_t hash = siphash(rl->k0, rl->k1, (const unsigned char *)key, keylen);
    struct entry **slot = slot_of(rl, hash, key, keylen);
    if (*slot)
        remove_entry(rl, slot, *slot);
}
