/* The PHC string format of argon2id hashes, "$argon2id$v=19$m=...,t=...,p=...$salt$hash",
 * written and read byte for byte as libargon2 does (its encoder and decoder are not
 * exported, and hashing through argon2_ctx, to choose the allocator, needs both). */
#ifndef TD_PHC_H
#define TD_PHC_H
#include <stddef.h>
#include <stdint.h>

/* Room for any field of a string that fits auth's 512-byte limit. */
#define TD_PHC_FIELD_MAX 384

struct td_phc {
    uint32_t version; /* 0x13 ("v=19"); 0x10 when a string has no "$v=" */
    uint32_t m_cost;  /* KiB */
    uint32_t t_cost;
    uint32_t lanes;
    size_t   saltlen;
    size_t   hashlen;
    uint8_t  salt[TD_PHC_FIELD_MAX];
    uint8_t  hash[TD_PHC_FIELD_MAX];
};

/* Writes the string (NUL-terminated) into out. 0, -EINVAL (a length out of range) or
 * -ENOSPC (cap too small). */
int td_phc_encode(const struct td_phc *p, char *out, size_t cap);
/* Reads an argon2id string. Only the syntax is checked here: argon2_ctx checks that
 * the parameters are in range. 0 or -EINVAL. */
int td_phc_decode(const char *s, struct td_phc *p);

#endif
