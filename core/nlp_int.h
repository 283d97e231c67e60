/* Internals of the language engine shared by core/nlp*.c: tokens, the language table, the
 * parse context and the grammar pieces. Not for other modules: core/nlp.h is the API. */
#ifndef TD_NLP_INT_H
#define TD_NLP_INT_H
#include <stddef.h>

#include "core/nlp.h"

enum nlp_tok_kind {
    NLP_WORD,   /* letters, digits, apostrophes, inner '-' ':' '#' ("9:30pm", "re-open") */
    NLP_NUM,    /* digits only */
    NLP_TAG,    /* '#' and a word starting with a letter: "#work" */
    NLP_REF,    /* '#' and digits: "#2" */
    NLP_QUOTE,  /* "..." or “...”: norm holds the text inside */
    NLP_PUNCT,  /* one of , ; : ? . ( ) and a lone '!' */
    NLP_BANGS,  /* two or more '!' */
};

struct nlp_tok {
    enum nlp_tok_kind kind;
    unsigned short start, end;   /* bytes of the original text (quotes included) */
    unsigned short cstart, cend; /* the text itself: inside the quotes of NLP_QUOTE */
    unsigned short norm, nlen;   /* lower-cased text in ctx->normbuf */
    unsigned char glued;         /* no space before it */
    unsigned char used;          /* taken by a part of the request */
};

/* A word or phrase of the language and what it means. Lists end with a NULL text.
 * Phrases are words separated by one space; a word may list alternatives "a|b". */
struct nlp_word {
    const char *text;
    int value;
};

/* An intent pattern: literal words ("a|b" alternatives, "[x]" optional) and slots
 * {obj} {title} {desc} {when} {prio} {rec} {tags} {tagsx} {untags} {rem} {dur} {q} {add}
 * {any}. The first pattern that matches the whole message wins. */
struct nlp_pattern {
    enum td_nlp_intent intent;
    const char *pattern;
};

/* Filter words of list requests. */
enum nlp_filter_kind { NLP_F_STATUS = 1, NLP_F_DUE, NLP_F_PRIO, NLP_F_TAGWORD, NLP_F_FILLER };
struct nlp_filter_word {
    const char *text;
    enum nlp_filter_kind kind;
    int value;
};

enum nlp_target_word { NLP_T_IT = 1, NLP_T_ALL };

/* Units of "in 3 days", "every 2 weeks", "30 minutes before". */
enum nlp_unit { NLP_U_MINUTE = 1, NLP_U_HOUR, NLP_U_DAY, NLP_U_WEEK, NLP_U_MONTH, NLP_U_YEAR };

/* The words the grammar of dates, recurrences and reminders is made of. Each is a list
 * of alternatives "a|b|c" matched against one token. */
struct nlp_keywords {
    const char *at, *on_date;      /* "at"; prepositions before a date: "on|by|due|for|until" */
    const char *in, *to, *the, *of, *and, *this_, *next, *every, *other, *before;
    const char *end, *month, *week, *weekend, *day, *last, *one, *number, *task, *me;
    const char *am, *pm, *noon, *midnight, *remind, *reminder, *with, *a, *after_done;
    const char *weekday, *weekend_days, *tag, *all, *by_time, *or, *on;
};

struct nlp_lang {
    const char *name;
    struct nlp_keywords kw;
    const struct nlp_word *weekdays;   /* 0 Monday .. 6 Sunday */
    const struct nlp_word *months;     /* 1..12 */
    const struct nlp_word *numbers;    /* "two" 2, "a" 1 */
    const struct nlp_word *ordinals;   /* "third" 3, "last" -1 (digits+suffix are read too) */
    const char *ordinal_suffixes;      /* "st|nd|rd|th" */
    const struct nlp_word *units;      /* enum nlp_unit */
    const struct nlp_word *relative_days; /* "today" 0, "tomorrow" 1 ... (phrases) */
    const struct nlp_word *dayparts;   /* "morning" 9 ... hour of day */
    const struct nlp_word *daypart_days; /* "tonight" 20: today with a part of day */
    const struct nlp_word *month_ends; /* "end of month" phrases */
    const struct nlp_word *year_ends;  /* "end of the year" */
    const struct nlp_word *plural_weekdays; /* "mondays": "on mondays" is weekly */
    const struct nlp_word *weekends;   /* "this weekend" phrases */
    const struct nlp_word *next_periods; /* "next week" 1 (Monday), "next month" 2, "next year" 3 */
    const struct nlp_word *priorities; /* phrases anywhere: "high priority" 3, "p1" 4 */
    const struct nlp_word *edge_priorities; /* only first or last: "urgent" 4 */
    const struct nlp_word *recur_words; /* trailing "daily" 1 .. "yearly" 4 */
    const struct nlp_word *recur_dayparts; /* "every morning": hour */
    const struct nlp_word *targets;    /* "it" NLP_T_IT, "them all" NLP_T_ALL */
    const struct nlp_word *target_strip; /* words dropped around a title reference */
    const struct nlp_word *stopwords;  /* a reference of these alone is none */
    const struct nlp_filter_word *filters;
    const struct nlp_word *add_openers; /* "add a task to" 0; "remind me to" 1 */
    const struct nlp_word *add_fillers; /* "task", ":" left at the start of a title */
    const struct nlp_word *add_trailers; /* "to my list" left at its end */
    const struct nlp_word *noise;      /* "please", "oops" dropped before the request */
    const struct nlp_word *trailing_noise; /* "please", "thanks" dropped after it */
    const struct nlp_word *smalltalk;  /* "thanks", "ok": nothing to do */
    const struct nlp_pattern *patterns;
};

extern const struct nlp_lang td_nlp_lang_en;

struct nlp_ctx {
    const struct nlp_lang *L;
    const char *text;
    size_t len;
    struct nlp_tok tok[TD_NLP_MAX_TOKENS];
    int ntok;
    char normbuf[TD_NLP_MAX_INPUT * 2 + TD_NLP_MAX_TOKENS];
    size_t normlen;
    long long now;               /* UTC seconds */
    const char *tz;
    long long today;             /* local day number (days since 1970-01-01) */
    int now_minute;              /* local minutes since midnight */
};

/* A date/time expression as read, before it is placed in the zone. */
struct nlp_when {
    int has_date;
    long long day;       /* local day number */
    int has_time, hour, minute;
    int bare_hour;       /* an hour without am/pm or minutes form that reads 1..6 as pm */
    int daypart;         /* default hour from "morning"/"tonight", -1 none */
    int has_instant;
    long long instant;   /* "in 2 hours": UTC seconds */
};

struct nlp_recur {
    int freq;            /* 0 none, 1 daily, 2 weekly, 3 monthly, 4 yearly */
    int interval;
    int nbyday;
    int byday_ord[7], byday_wd[7]; /* ord 0 = every, 1..5, -1 last; wd 0 Monday */
    int bymonthday;      /* 0 none, -1 last */
    int bymonth;
    int hour;            /* "every morning": -1 none */
    int completion;
};

#define NLP_CLEAR_DUE 2 /* nlp_when_full: "none", "no date" */

/* nlp_lex.c */
int nlp_lex(struct nlp_ctx *c);
const char *nlp_norm(const struct nlp_ctx *c, int i, size_t *n);
int nlp_is(const struct nlp_ctx *c, int i, const char *alts);
int nlp_phrase(const struct nlp_ctx *c, int i, int end, const char *phrase);
int nlp_lookup(const struct nlp_ctx *c, int i, int end, const struct nlp_word *list, int *value);
int nlp_number(const struct nlp_ctx *c, int i, int *value);
int nlp_ordinal(const struct nlp_ctx *c, int i, int *value);
int nlp_skip_free(const struct nlp_ctx *c, int i, int end);

/* nlp_when.c */
long long nlp_days(int y, int m, int d);
void nlp_civil(long long days, int *y, int *m, int *d);
int nlp_weekday(long long days);
int nlp_when_parse(struct nlp_ctx *c, int i, int end, int loose, struct nlp_when *w);
int nlp_when_full(struct nlp_ctx *c, int i, int end, struct nlp_when *w);
int nlp_when_resolve(const struct nlp_ctx *c, const struct nlp_when *w, long long *utc,
                     int *all_day, struct td_datetime_civil *local);
int nlp_when_local(const struct nlp_ctx *c, long long day, int hour, int minute,
                   long long *utc);
int nlp_when_scan(struct nlp_ctx *c, int from, int end, struct nlp_when *w);

/* nlp_recur.c */
int nlp_recur_parse(struct nlp_ctx *c, int i, int end, struct nlp_recur *r);
int nlp_recur_full(struct nlp_ctx *c, int i, int end, struct nlp_recur *r);
int nlp_recur_format(const struct nlp_recur *r, char *buf, size_t n);
long long nlp_recur_first_day(const struct nlp_recur *r, long long from_day);

/* nlp_slot.c */
int nlp_priority_full(struct nlp_ctx *c, int i, int end, int *prio);
int nlp_priority_extract(struct nlp_ctx *c, int from, int end, int edges, int *prio);
int nlp_tags_full(struct nlp_ctx *c, int i, int end, int bare_ok, int remove,
                  struct td_nlp_result *out);
int nlp_duration(struct nlp_ctx *c, int i, int end, long *secs);
int nlp_reminders_full(struct nlp_ctx *c, int i, int end, struct td_nlp_result *out);
int nlp_reminders_extract(struct nlp_ctx *c, int from, int end, struct td_nlp_result *out,
                          struct nlp_when *at, int *nat);
int nlp_reminder_at(struct nlp_ctx *c, const struct nlp_when *spec, const struct td_nlp_result *due,
                    struct td_nlp_result *out);
int nlp_target_full(struct nlp_ctx *c, int i, int end, struct td_nlp_result *out);
/* Returns 0 when [i, end) is not all filter words, else NLP_FILTERS_OK | ..._REAL (a filter
 * was set) | ..._CUE (a word that asks for a list: "show", "tasks"). */
#define NLP_FILTERS_OK 1
#define NLP_FILTERS_REAL 2
#define NLP_FILTERS_CUE 4
int nlp_filters_full(struct nlp_ctx *c, int i, int end, struct td_nlp_filter *f);
int nlp_tag_token(const struct nlp_ctx *c, int i, struct td_nlp_result *out, int remove);
void nlp_text_copy(const struct nlp_ctx *c, int i, int end, char *dst, size_t n);

/* nlp_intent.c */
int nlp_intent_match(struct nlp_ctx *c, int begin, int end, struct td_nlp_result *out,
                     int *add_from, int *add_flags);

/* nlp.c */
int nlp_add_body(struct nlp_ctx *c, int from, int end, int flags, struct td_nlp_result *out);
int nlp_add_reminder_at(struct td_nlp_result *out, long long at);
void nlp_set_due(struct nlp_ctx *c, struct td_nlp_result *out, const struct nlp_when *w);

#endif
