/* core/nlp_lex.c: the tokenizer of the language engine, and matching tokens against the
 * words and phrases of the language table. */
#include "core/nlp_int.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "core/utf8.h"

static int is_open_quote(uint32_t cp)
{
    return cp == '"' || cp == 0x201C || cp == 0x201E || cp == 0x00AB;
}

static int is_close_quote(uint32_t cp)
{
    return cp == '"' || cp == 0x201D || cp == 0x201C || cp == 0x00BB;
}

static int ascii_alnum(uint32_t cp)
{
    return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9');
}

static int is_punct_cp(uint32_t cp)
{
    /* Typographic punctuation that is not part of a word. */
    return cp == 0x2013 || cp == 0x2014 || cp == 0x2026 || cp == 0x00BF || cp == 0x00A1;
}

/* A letter-like code point: ASCII letters and digits, '_' and anything non-ASCII that is
 * neither space, control, quote nor dash. */
static int is_wordch(uint32_t cp)
{
    if (cp < 0x80)
        return ascii_alnum(cp) || cp == '_';
    return !td_utf8_is_space(cp) && !td_utf8_is_control(cp) && !is_open_quote(cp) &&
           !is_close_quote(cp) && cp != 0x2019 && cp != 0x2018 && !is_punct_cp(cp);
}

/* Decodes the code point at pos; 0 at the end. */
static int peek(const char *s, size_t len, size_t pos, uint32_t *cp)
{
    if (pos >= len) {
        *cp = 0;
        return 0;
    }
    int n = td_utf8_decode(s + pos, len - pos, cp);
    return n;
}

static int push(struct nlp_ctx *c, enum nlp_tok_kind kind, size_t start, size_t end,
                size_t cstart, size_t cend, int glued)
{
    if (c->ntok >= TD_NLP_MAX_TOKENS)
        return -E2BIG;
    struct nlp_tok *t = &c->tok[c->ntok++];
    t->kind = kind;
    t->start = (unsigned short)start;
    t->end = (unsigned short)end;
    t->cstart = (unsigned short)cstart;
    t->cend = (unsigned short)cend;
    t->glued = (unsigned char)glued;
    t->used = 0;
    t->norm = (unsigned short)c->normlen;
    /* Lower-cased ASCII, U+2019 as an apostrophe; other bytes as they are. */
    size_t o = c->normlen;
    for (size_t p = cstart; p < cend;) {
        uint32_t cp;
        int n = td_utf8_decode(c->text + p, cend - p, &cp);
        if (n <= 0)
            return -EILSEQ;
        if (o + 4 >= sizeof c->normbuf)
            return -E2BIG;
        if (cp == 0x2019 || cp == 0x2018) {
            c->normbuf[o++] = '\'';
        } else if (cp < 0x80) {
            char ch = (char)cp;
            c->normbuf[o++] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
        } else {
            memcpy(c->normbuf + o, c->text + p, (size_t)n);
            o += (size_t)n;
        }
        p += (size_t)n;
    }
    t->nlen = (unsigned short)(o - c->normlen);
    c->normbuf[o++] = '\0';
    c->normlen = o;
    return 0;
}

int nlp_lex(struct nlp_ctx *c)
{
    const char *s = c->text;
    size_t len = c->len, pos = 0;
    int glued = 0, rc;
    c->ntok = 0;
    c->normlen = 0;
    while (pos < len) {
        uint32_t cp;
        int n = peek(s, len, pos, &cp);
        if (n <= 0 || cp == 0)
            return -EILSEQ;
        if (td_utf8_is_space(cp) || td_utf8_is_control(cp)) {
            pos += (size_t)n;
            glued = 0;
            continue;
        }
        size_t start = pos;
        if (is_open_quote(cp)) {
            size_t cstart = pos + (size_t)n, p = cstart, cend = len, end = len;
            while (p < len) {
                uint32_t q;
                int m = peek(s, len, p, &q);
                if (m <= 0 || q == 0)
                    return -EILSEQ;
                if (is_close_quote(q)) {
                    cend = p;
                    end = p + (size_t)m;
                    break;
                }
                p += (size_t)m;
            }
            if ((rc = push(c, NLP_QUOTE, start, end, cstart, cend, glued)) < 0)
                return rc;
            pos = end;
            glued = 1;
            continue;
        }
        if (cp == '#') {
            uint32_t nx;
            int m = peek(s, len, pos + 1, &nx);
            if (m < 0)
                return -EILSEQ;
            if (m > 0 && is_wordch(nx)) {
                int digits = 1;
                size_t p = pos + 1;
                while (p < len) {
                    uint32_t q;
                    int k = peek(s, len, p, &q);
                    if (k <= 0)
                        return -EILSEQ;
                    if (is_wordch(q) || (q == '-' && p + 1 < len && is_wordch((unsigned char)s[p + 1]))) {
                        if (!(q >= '0' && q <= '9'))
                            digits = 0;
                        p += (size_t)k;
                    } else {
                        break;
                    }
                }
                if ((rc = push(c, digits ? NLP_REF : NLP_TAG, start, p, start, p, glued)) < 0)
                    return rc;
                pos = p;
                glued = 1;
                continue;
            }
        }
        if (cp == '!') {
            size_t p = pos;
            while (p < len && s[p] == '!')
                p++;
            if ((rc = push(c, p - pos >= 2 ? NLP_BANGS : NLP_PUNCT, start, p, start, p, glued)) < 0)
                return rc;
            pos = p;
            glued = 1;
            continue;
        }
        if (!is_wordch(cp)) {
            if ((rc = push(c, NLP_PUNCT, start, pos + (size_t)n, start, pos + (size_t)n, glued)) < 0)
                return rc;
            pos += (size_t)n;
            glued = 1;
            continue;
        }
        /* A word: letters and digits, with inner apostrophes, hyphens, colons between
         * digits ("17:30") and '#' after a letter ("C#"). */
        size_t p = pos;
        int digits = 1;
        uint32_t prev = 0;
        while (p < len) {
            uint32_t q, nx = 0;
            int k = peek(s, len, p, &q);
            if (k <= 0)
                return -EILSEQ;
            if (is_wordch(q)) {
                if (!(q >= '0' && q <= '9'))
                    digits = 0;
                prev = q;
                p += (size_t)k;
                continue;
            }
            int m = peek(s, len, p + (size_t)k, &nx);
            if (m < 0)
                return -EILSEQ;
            if ((q == '\'' || q == 0x2019 || q == '-') && m > 0 && is_wordch(nx)) {
                digits = 0;
                prev = q;
                p += (size_t)k;
                continue;
            }
            if (q == ':' && prev >= '0' && prev <= '9' && nx >= '0' && nx <= '9') {
                digits = 0;
                prev = q;
                p += (size_t)k;
                continue;
            }
            if (q == '#' && ((prev >= 'a' && prev <= 'z') || (prev >= 'A' && prev <= 'Z')) &&
                (m == 0 || !is_wordch(nx))) {
                digits = 0;
                prev = q;
                p += (size_t)k;
                continue;
            }
            break;
        }
        if ((rc = push(c, digits ? NLP_NUM : NLP_WORD, start, p, start, p, glued)) < 0)
            return rc;
        pos = p;
        glued = 1;
    }
    return 0;
}

const char *nlp_norm(const struct nlp_ctx *c, int i, size_t *n)
{
    if (n)
        *n = c->tok[i].nlen;
    return c->normbuf + c->tok[i].norm;
}

/* 1 when the word w (n bytes) is one of alts ("a|b|c"). */
static int alt_has(const char *alts, const char *w, size_t n)
{
    const char *p = alts;
    while (*p) {
        const char *e = strchr(p, '|');
        size_t k = e ? (size_t)(e - p) : strlen(p);
        if (k == n && memcmp(p, w, n) == 0)
            return 1;
        if (!e)
            break;
        p = e + 1;
    }
    return 0;
}

int nlp_is(const struct nlp_ctx *c, int i, const char *alts)
{
    if (!alts || i < 0 || i >= c->ntok || c->tok[i].kind == NLP_QUOTE)
        return 0;
    size_t n;
    const char *w = nlp_norm(c, i, &n);
    return alt_has(alts, w, n);
}

/* Matches phrase (words, "a|b" alternatives, "[x]" optional words) at token i, never
 * beyond end, never over a used or quoted token. Returns the number of tokens, or 0. */
int nlp_phrase(const struct nlp_ctx *c, int i, int end, const char *phrase)
{
    char word[512];
    int j = i;
    const char *p = phrase;
    while (*p) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        const char *e = strchr(p, ' ');
        size_t k = e ? (size_t)(e - p) : strlen(p);
        int opt = 0;
        if (k >= 2 && p[0] == '[' && p[k - 1] == ']') {
            opt = 1;
            if (k - 2 >= sizeof word)
                return 0;
            memcpy(word, p + 1, k - 2);
            word[k - 2] = '\0';
        } else {
            if (k >= sizeof word)
                return 0;
            memcpy(word, p, k);
            word[k] = '\0';
        }
        if (j < end && !c->tok[j].used && nlp_is(c, j, word))
            j++;
        else if (!opt)
            return 0;
        p += k;
    }
    return j - i;
}

int nlp_lookup(const struct nlp_ctx *c, int i, int end, const struct nlp_word *list, int *value)
{
    int best = 0;
    for (const struct nlp_word *w = list; w && w->text; w++) {
        int n = nlp_phrase(c, i, end, w->text);
        if (n > best) {
            best = n;
            if (value)
                *value = w->value;
        }
    }
    return best;
}

int nlp_number(const struct nlp_ctx *c, int i, int *value)
{
    if (i < 0 || i >= c->ntok || c->tok[i].used)
        return 0;
    if (c->tok[i].kind == NLP_NUM) {
        size_t n;
        const char *w = nlp_norm(c, i, &n);
        if (n > 4)
            return 0;
        int v = 0;
        for (size_t k = 0; k < n; k++)
            v = v * 10 + (w[k] - '0');
        *value = v;
        return 1;
    }
    return nlp_lookup(c, i, i + 1, c->L->numbers, value);
}

int nlp_ordinal(const struct nlp_ctx *c, int i, int *value)
{
    if (i < 0 || i >= c->ntok || c->tok[i].used || c->tok[i].kind != NLP_WORD)
        return 0;
    size_t n;
    const char *w = nlp_norm(c, i, &n);
    size_t d = 0;
    int v = 0;
    while (d < n && d < 3 && w[d] >= '0' && w[d] <= '9')
        v = v * 10 + (w[d++] - '0');
    if (d > 0 && d < n) {
        if (alt_has(c->L->ordinal_suffixes, w + d, n - d) && v >= 1) {
            *value = v;
            return 1;
        }
        return 0;
    }
    return nlp_lookup(c, i, i + 1, c->L->ordinals, value);
}

/* The first token at or after i that is neither used nor a comma; end when none. */
int nlp_skip_free(const struct nlp_ctx *c, int i, int end)
{
    while (i < end && (c->tok[i].used ||
                       (c->tok[i].kind == NLP_PUNCT && nlp_is(c, i, ","))))
        i++;
    return i;
}
