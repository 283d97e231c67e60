/* core/nlp_intent.c: which request a message is. The language table's patterns are tried
 * in order against the whole message; the slots of the first that matches are parsed into
 * the result. Messages no pattern takes are list requests when every word is a list
 * filter, and new tasks otherwise (core/nlp.c). */
#include "core/nlp_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ELEMS 24
#define WORD_MAX 200
#define MAX_LANGS 8

enum slot {
    S_NONE = 0, S_OBJ, S_TITLE, S_DESC, S_WHEN, S_PRIO, S_REC, S_TAGS, S_TAGSX, S_UNTAGS,
    S_REM, S_DUR, S_Q, S_ADD, S_ADDR, S_ANY, S_NODUE, /* zero-width: clears the due date */
};

static const struct {
    const char *name;
    enum slot slot;
} slot_names[] = {
    {"obj", S_OBJ},     {"title", S_TITLE}, {"desc", S_DESC},     {"when", S_WHEN},
    {"prio", S_PRIO},   {"rec", S_REC},     {"tags", S_TAGS},     {"tagsx", S_TAGSX},
    {"untags", S_UNTAGS}, {"rem", S_REM},   {"dur", S_DUR},       {"q", S_Q},
    {"add", S_ADD},     {"addr", S_ADDR},   {"any", S_ANY},     {"nodue", S_NODUE},
};

struct elem {
    enum slot slot;
    int optional;
    const char *word; /* alternatives of a literal */
};

/* A language's patterns, compiled once per process (never freed: the tables are static). */
struct compiled {
    enum td_nlp_intent intent;
    int nel;
    struct elem el[MAX_ELEMS];
};

struct matcher {
    struct nlp_ctx *c;
    const struct elem *el;
    int nel;
    int end;
    int span_from[MAX_ELEMS], span_to[MAX_ELEMS];
    struct td_nlp_result *scratch;
    int budget;          /* validations left: a bound on the work of one message */
};

static int compile(const char *pattern, struct elem *el)
{
    int n = 0;
    const char *p = pattern;
    while (*p) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        const char *e = strchr(p, ' ');
        size_t k = e ? (size_t)(e - p) : strlen(p);
        if (n >= MAX_ELEMS || k + 1 >= WORD_MAX)
            return -1;
        struct elem *x = &el[n++];
        memset(x, 0, sizeof *x);
        if (p[0] == '{' && p[k - 1] == '}') {
            for (size_t s = 0; s < sizeof slot_names / sizeof slot_names[0]; s++)
                if (strlen(slot_names[s].name) == k - 2 &&
                    memcmp(slot_names[s].name, p + 1, k - 2) == 0)
                    x->slot = slot_names[s].slot;
            if (x->slot == S_NONE)
                return -1;
        } else {
            int opt = p[0] == '[' && p[k - 1] == ']';
            char *w = malloc(k + 1);
            if (!w)
                return -1;
            memcpy(w, p + opt, k - 2 * (size_t)opt);
            w[k - 2 * (size_t)opt] = '\0';
            x->optional = opt;
            x->word = w;
        }
        p += k;
    }
    return n;
}

static void scratch_reset(struct td_nlp_result *r)
{
    r->target = TD_NLP_TARGET_NONE;
    r->ordinal = 0;
    r->target_text[0] = '\0';
    memset(&r->filter, 0, sizeof r->filter);
    r->ntags = 0;
    r->nreminders = 0;
    r->priority = 0;
}

static int nonpunct(const struct nlp_ctx *c, int i, int end)
{
    for (int k = i; k < end; k++)
        if (c->tok[k].kind != NLP_PUNCT)
            return 1;
    return 0;
}

/* Parses the slot over [i, end) into out; 1 when the span is what the slot wants. */
static int slot_parse(struct nlp_ctx *c, enum slot s, int i, int end, struct td_nlp_result *out)
{
    struct nlp_when w;
    struct nlp_recur r;
    long secs;
    int v;
    switch (s) {
    case S_OBJ: return nlp_target_full(c, i, end, out);
    case S_TITLE:
        if (!nonpunct(c, i, end))
            return 0;
        nlp_text_copy(c, i, end, out->title, sizeof out->title);
        return 1;
    case S_DESC:
        if (!nonpunct(c, i, end))
            return 0;
        nlp_text_copy(c, i, end, out->description, sizeof out->description);
        return 1;
    case S_Q:
        if (!nonpunct(c, i, end))
            return 0;
        nlp_text_copy(c, i, end, out->title, sizeof out->title);
        return 1;
    case S_WHEN:
        if (!nlp_when_full(c, i, end, &w))
            return 0;
        nlp_set_due(c, out, &w);
        return out->has_due;
    case S_PRIO:
        if (!nlp_priority_full(c, i, end, &v))
            return 0;
        out->priority = v;
        return 1;
    case S_REC:
        if (!nlp_recur_full(c, i, end, &r) || nlp_recur_format(&r, out->rrule, sizeof out->rrule) < 0)
            return 0;
        out->anchor_completion = r.completion;
        return 1;
    case S_TAGS: return nlp_tags_full(c, i, end, 1, 0, out);
    case S_TAGSX: return nlp_tags_full(c, i, end, 0, 0, out);
    case S_UNTAGS: return nlp_tags_full(c, i, end, 0, 1, out);
    case S_REM: return nlp_reminders_full(c, i, end, out);
    case S_DUR:
        if (nlp_duration(c, i, end, &secs) != end - i || out->nreminders >= TD_NLP_MAX_REMINDERS)
            return 0;
        out->reminders[out->nreminders].at = 0;
        out->reminders[out->nreminders].at_s = 0;
        out->reminders[out->nreminders++].offset_s = secs;
        return 1;
    case S_ADD:
    case S_ADDR:
    case S_ANY: return nonpunct(c, i, end);
    default: return 0;
    }
}

static int is_comma(const struct nlp_ctx *c, int i)
{
    return c->tok[i].kind == NLP_PUNCT && nlp_is(c, i, ",");
}

static int literal_at(const struct nlp_ctx *c, int i, int end, const char *word)
{
    return i < end && c->tok[i].kind != NLP_QUOTE && nlp_is(c, i, word);
}

static int match(struct matcher *m, int e, int t)
{
    struct nlp_ctx *c = m->c;
    while (t < m->end && is_comma(c, t))
        t++;
    if (e == m->nel)
        return t == m->end;
    const struct elem *x = &m->el[e];
    if (x->slot == S_NODUE)
        return match(m, e + 1, t);
    if (x->slot == S_NONE) {
        if (literal_at(c, t, m->end, x->word) && match(m, e + 1, t + 1))
            return 1;
        return x->optional && match(m, e + 1, t);
    }
    /* A slot: the shortest span that the rest of the pattern accepts. */
    int last = e + 1 == m->nel || (e + 2 == m->nel && m->el[e + 1].slot == S_NODUE);
    for (int s = last ? m->end : t + 1; s <= m->end; s++) {
        if (!last) {
            const struct elem *nx = &m->el[e + 1];
            int u = s;
            while (u < m->end && is_comma(c, u))
                u++;
            if (nx->slot == S_NONE && !nx->optional && !literal_at(c, u, m->end, nx->word))
                continue;
        }
        if (m->budget-- <= 0)
            return 0;
        scratch_reset(m->scratch);
        int a = t, b = s;
        while (b > a && is_comma(c, b - 1))
            b--;
        if (b <= a || !slot_parse(c, x->slot, a, b, m->scratch))
            continue;
        m->span_from[e] = a;
        m->span_to[e] = b;
        if (match(m, e + 1, s))
            return 1;
    }
    return 0;
}

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    const struct nlp_pattern *src;
    struct compiled *pats;
    int n;
} cache[MAX_LANGS];

/* The compiled patterns of a table; NULL when memory runs out. */
static const struct compiled *compiled_for(const struct nlp_pattern *src, int *count)
{
    const struct compiled *out = NULL;
    pthread_mutex_lock(&cache_mu);
    int k = 0;
    for (; k < MAX_LANGS && cache[k].src; k++)
        if (cache[k].src == src)
            break;
    if (k < MAX_LANGS && !cache[k].src) {
        int n = 0;
        while (src[n].pattern)
            n++;
        struct compiled *pats = calloc((size_t)n + 1, sizeof *pats);
        int m = 0;
        for (int i = 0; pats && i < n; i++) {
            int ne = compile(src[i].pattern, pats[m].el);
            if (ne <= 0)
                continue;
            pats[m].nel = ne;
            pats[m++].intent = src[i].intent;
        }
        if (pats) {
            cache[k].src = src;
            cache[k].pats = pats;
            cache[k].n = m;
        }
    }
    if (k < MAX_LANGS && cache[k].src == src) {
        out = cache[k].pats;
        *count = cache[k].n;
    }
    pthread_mutex_unlock(&cache_mu);
    return out;
}

int nlp_intent_match(struct nlp_ctx *c, int begin, int end, struct td_nlp_result *out,
                     int *add_from, int *add_flags)
{
    struct td_nlp_result scratch;
    int budget = 20000, count = 0;
    memset(&scratch, 0, sizeof scratch);
    *add_from = -1;
    *add_flags = 0;
    const struct compiled *pats = compiled_for(c->L->patterns, &count);
    if (!pats)
        return 0;
    for (int pi = 0; pi < count; pi++) {
        const struct compiled *p = &pats[pi];
        const struct elem *local = p->el;
        int n = p->nel;
        struct matcher m = {.c = c, .el = local, .nel = n, .end = end, .scratch = &scratch,
                            .budget = budget};
        int ok = match(&m, 0, begin);
        budget = m.budget;
        if (!ok) {
            if (budget <= 0)
                return 0;
            continue;
        }
        out->intent = p->intent;
        for (int e = 0; e < n; e++) {
            if (local[e].slot == S_NONE)
                continue;
            if (local[e].slot == S_NODUE) {
                out->clear_due = 1;
                continue;
            }
            if (local[e].slot == S_ADD || local[e].slot == S_ADDR) {
                *add_from = m.span_from[e];
                *add_flags = local[e].slot == S_ADDR;
                continue;
            }
            slot_parse(c, local[e].slot, m.span_from[e], m.span_to[e], out);
        }
        return 1;
    }
    return 0;
}
