/* The value of one base64 character, shared by the JWT reader (base64url, RFC 4648 5)
 * and the PHC strings of password hashes (the standard alphabet, RFC 4648 4). */
#ifndef TD_BASE64_H
#define TD_BASE64_H

/* 0..63, or -1 when c is not in the alphabet (url: '-' and '_' instead of '+' and '/'). */
static inline int td_base64_value(unsigned char c, int url)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == (url ? '-' : '+'))
        return 62;
    return c == (url ? '_' : '/') ? 63 : -1;
}

#endif
