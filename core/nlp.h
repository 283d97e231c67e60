/* The built-in language engine of the chat: one message in, what it asks for out.
 * Deterministic and offline: a tokenizer (core/nlp_lex.c), the grammar of dates and times
 * (core/nlp_when.c), of recurrences (core/nlp_recur.c), of the parts of a request -
 * priorities, tags, reminders, task references, list filters - (core/nlp_slot.c), the
 * intent patterns (core/nlp_intent.c) and the assembly of a result (core/nlp.c). Words and
 * patterns come from a language table (core/nlp_en.c for English): another language is
 * another table. Dates are computed for the user's zone and a given now (core/tz.h). */
#ifndef TD_NLP_H
#define TD_NLP_H
#include <stddef.h>

#include "core/datetime.h"

#define TD_NLP_MAX_INPUT 1000  /* bytes of one message */
#define TD_NLP_MAX_TOKENS 160
#define TD_NLP_TEXT_MAX (TD_NLP_MAX_INPUT + 1)
#define TD_NLP_MAX_TAGS 16
#define TD_NLP_TAG_MAX 64
#define TD_NLP_MAX_REMINDERS 8
#define TD_NLP_RRULE_MAX 128

enum td_nlp_intent {
    TD_NLP_UNKNOWN = 0,
    TD_NLP_ADD,
    TD_NLP_LIST,
    TD_NLP_COMPLETE,
    TD_NLP_REOPEN,
    TD_NLP_DELETE,
    TD_NLP_UPDATE,
    TD_NLP_REMIND,    /* set a reminder on a task */
    TD_NLP_UNREMIND,  /* cancel a task's reminders */
    TD_NLP_SKIP,      /* skip the next occurrence of a recurring task */
    TD_NLP_SEARCH,
    TD_NLP_UNDO,
    TD_NLP_HELP,
};

/* What a complete/reopen/delete/update/remind/unremind/skip acts on. */
enum td_nlp_target {
    TD_NLP_TARGET_NONE = 0,
    TD_NLP_TARGET_IT,      /* "it", "that one": the task the conversation is about */
    TD_NLP_TARGET_ALL,     /* "them all", "all completed tasks" (with the filter) */
    TD_NLP_TARGET_ORDINAL, /* "the second one", "#2": position in the last answer */
    TD_NLP_TARGET_LAST,    /* "the last one" */
    TD_NLP_TARGET_TEXT,    /* a title to look up: target_text */
};

enum td_nlp_status { TD_NLP_STATUS_ANY = 0, TD_NLP_STATUS_PENDING, TD_NLP_STATUS_COMPLETED,
                     TD_NLP_STATUS_ALL };
enum td_nlp_due { TD_NLP_DUE_ANY = 0, TD_NLP_DUE_OVERDUE, TD_NLP_DUE_TODAY, TD_NLP_DUE_TOMORROW,
                  TD_NLP_DUE_WEEK, TD_NLP_DUE_NEXT_WEEK, TD_NLP_DUE_MONTH,
                  TD_NLP_DUE_DAY, /* one day: due_day, "show tasks due friday" */
                  TD_NLP_DUE_NONE /* tasks without a due date */ };

/* What the chat may want to confirm or say (td_nlp_result.flags). */
#define TD_NLP_F_BARE_HOUR 1u   /* "at 5" was read as 17:00 (1..6 without am/pm) */
#define TD_NLP_F_NO_TITLE 2u    /* a new task with nothing left for its title */
#define TD_NLP_F_GUESSED_ADD 4u /* no verb: the whole message was taken as a new task */
#define TD_NLP_F_SMALLTALK 8u   /* "thanks", "ok": nothing to do */
#define TD_NLP_F_MANY 16u       /* acts on several tasks ("all"): confirm before deleting */

/* List filters ("show high priority #work tasks due this week"). */
struct td_nlp_filter {
    enum td_nlp_status status;
    enum td_nlp_due due;
    int priority;            /* 1..4 (low..urgent), 0 for any */
    char tag[TD_NLP_TAG_MAX]; /* "" for any */
    long long due_from, due_to; /* UTC seconds [from, to) of the due filter; overdue: to = now */
    struct td_datetime_civil due_day; /* TD_NLP_DUE_DAY: the local date */
};

struct td_nlp_reminder {
    int at;            /* 1: at the instant at_s; 0: offset_s seconds before the due date */
    long offset_s;
    long long at_s;
};

struct td_nlp_result {
    enum td_nlp_intent intent;
    int confidence;      /* 0..100: 90 for a pattern, 60 for a bare task text, 0 unknown */
    unsigned flags;      /* TD_NLP_F_* */
    char title[TD_NLP_TEXT_MAX];       /* add: the title; update: the new one; search: query */
    char description[TD_NLP_TEXT_MAX]; /* update: the new description */
    int has_due;
    int clear_due;       /* update: "remove the due date" */
    int all_day;         /* no time was given: due_s is local midnight of due_date */
    long long due_s;     /* UTC seconds */
    struct td_datetime_civil due_local; /* the wall-clock due date (and time) in the zone */
    char rrule[TD_NLP_RRULE_MAX];      /* "" or "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU" */
    int anchor_completion; /* "every!", "after completion" */
    int priority;        /* 0 unset, 1 low, 2 medium, 3 high, 4 urgent (core/task.h's scale) */
    int ntags;
    char tags[TD_NLP_MAX_TAGS][TD_NLP_TAG_MAX]; /* lower-cased, without '#' */
    unsigned char tag_remove[TD_NLP_MAX_TAGS];  /* update: 1 = remove this tag */
    int nreminders;
    struct td_nlp_reminder reminders[TD_NLP_MAX_REMINDERS];
    struct td_nlp_filter filter;   /* list, and delete/complete of "all ..." */
    enum td_nlp_target target;
    int ordinal;                   /* TD_NLP_TARGET_ORDINAL: 1-based */
    char target_text[TD_NLP_TEXT_MAX];
};

/* Parses the message text (len bytes of UTF-8, at most TD_NLP_MAX_INPUT) as said at now_ms
 * (unix milliseconds) by a user in zone tz (an IANA name; NULL or "" means UTC). Fills *out
 * (no allocation; td_nlp_free is there for symmetry). Returns 0, -EINVAL for a NULL
 * argument, -E2BIG for a message too long or of too many words, -EILSEQ for invalid UTF-8
 * or a NUL, -ENOENT for an unknown zone. A message that says nothing understood is
 * TD_NLP_UNKNOWN with confidence 0, not an error. */
int td_nlp_parse(const char *text, size_t len, long long now_ms, const char *tz,
                 struct td_nlp_result *out);

/* Releases what td_nlp_parse gave *r (nothing today) and clears it. */
void td_nlp_free(struct td_nlp_result *r);

/* Lower-case English names for the corpus and the chat's answers. */
const char *td_nlp_intent_name(enum td_nlp_intent i);
const char *td_nlp_status_name(enum td_nlp_status s);
const char *td_nlp_due_name(enum td_nlp_due d);

/* Writes the due date as the task model's due_at takes it (core/task.h): "YYYY-MM-DD" for
 * an all-day date (with the user's zone as time_zone), else the UTC instant
 * "YYYY-MM-DDTHH:MM:SSZ". Returns 0, -ENOENT when there is no due date, -ENOSPC. */
int td_nlp_due_format(const struct td_nlp_result *r, char *buf, size_t n);

/* Writes the reminder as the task model takes it: "PT30M"/"P1D"/"P1W" for an offset, an
 * RFC 3339 UTC instant for an "at". Returns 0 or -ENOSPC. */
int td_nlp_reminder_format(const struct td_nlp_reminder *r, char *buf, size_t n);

#endif
