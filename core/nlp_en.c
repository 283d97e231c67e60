/* core/nlp_en.c: English for the language engine: its words, phrases and intent patterns.
 * Nothing here is code: another language is another struct nlp_lang like this one.
 * Phrases are lower-case words separated by single spaces; "a|b" lists alternatives for
 * one word and "[x]" marks an optional word. */
#include "core/nlp_int.h"

static const struct nlp_word weekdays[] = {
    {"monday|mon|mondays", 0},   {"tuesday|tue|tues|tuesdays", 1},
    {"wednesday|wed|wednesdays", 2}, {"thursday|thu|thur|thurs|thursdays", 3},
    {"friday|fri|fridays", 4},   {"saturday|sat|saturdays", 5},
    {"sunday|sun|sundays", 6},   {NULL, 0},
};

static const struct nlp_word months[] = {
    {"january|jan", 1}, {"february|feb", 2}, {"march|mar", 3},    {"april|apr", 4},
    {"may", 5},         {"june|jun", 6},     {"july|jul", 7},     {"august|aug", 8},
    {"september|sep|sept", 9}, {"october|oct", 10}, {"november|nov", 11},
    {"december|dec", 12}, {NULL, 0},
};

static const struct nlp_word numbers[] = {
    {"a|an|one", 1}, {"two", 2},   {"three", 3}, {"four", 4},    {"five", 5},
    {"six", 6},      {"seven", 7}, {"eight", 8}, {"nine", 9},    {"ten", 10},
    {"eleven", 11},  {"twelve", 12}, {"fifteen", 15}, {"twenty", 20}, {"thirty", 30},
    {"forty-five", 45}, {NULL, 0},
};

static const struct nlp_word ordinals[] = {
    {"first", 1}, {"second", 2}, {"third", 3}, {"fourth", 4}, {"fifth", 5},
    {"sixth", 6}, {"seventh", 7}, {"eighth", 8}, {"ninth", 9}, {"tenth", 10},
    {"last", -1}, {NULL, 0},
};

static const struct nlp_word units[] = {
    {"minute|minutes|min|mins", NLP_U_MINUTE}, {"hour|hours|hr|hrs", NLP_U_HOUR},
    {"day|days", NLP_U_DAY}, {"week|weeks", NLP_U_WEEK}, {"month|months", NLP_U_MONTH},
    {"year|years", NLP_U_YEAR}, {NULL, 0},
};

static const struct nlp_word relative_days[] = {
    {"today", 0}, {"tomorrow|tmr|tmrw|tomorow", 1}, {"[the] day after tomorrow", 2},
    {NULL, 0},
};

static const struct nlp_word dayparts[] = {
    {"morning", 9}, {"afternoon", 15}, {"evening", 19}, {"night", 20}, {NULL, 0},
};

static const struct nlp_word daypart_days[] = {
    {"tonight", 20}, {"this morning", 9}, {"this afternoon", 15}, {"this evening", 19},
    {NULL, 0},
};

static const struct nlp_word month_ends[] = {
    {"[the] end of [the] month", 1}, {NULL, 0},
};

static const struct nlp_word year_ends[] = {
    {"[the] end of [the] year", 1}, {NULL, 0},
};

/* "on mondays": a weekly rule without "every" */
static const struct nlp_word plural_weekdays[] = {
    {"mondays", 0}, {"tuesdays", 1}, {"wednesdays", 2}, {"thursdays", 3}, {"fridays", 4},
    {"saturdays", 5}, {"sundays", 6}, {NULL, 0},
};

static const struct nlp_word weekends[] = {
    {"this|the weekend", 1}, {"weekend", 1}, {NULL, 0},
};

static const struct nlp_word next_periods[] = {
    {"next week", 1}, {"next month", 2}, {"next year", 3}, {NULL, 0},
};

static const struct nlp_word priorities[] = {
    {"[with] [a] high|top priority", 3}, {"[with] [a] medium|normal priority", 2},
    {"[with] [a] low priority", 1},      {"[with] [an] urgent priority", 4},
    {"priority [:] high", 3},            {"priority [:] medium|normal", 2},
    {"priority [:] low", 1},             {"priority [:] urgent", 4},
    {"p1", 4}, {"p2", 3}, {"p3", 2}, {"p4", 1}, {"high-priority", 3}, {"low-priority", 1},
    {NULL, 0},
};

/* Values of 10 and more are levels that only stand alone after "priority to". */
static const struct nlp_word edge_priorities[] = {
    {"urgent|asap|urgently", 4}, {"important", 3},
    {"high", 13}, {"medium|normal", 12}, {"low", 11}, {NULL, 0},
};

static const struct nlp_word recur_words[] = {
    {"daily", 1}, {"weekly", 2}, {"monthly", 3}, {"yearly|annually", 4}, {NULL, 0},
};

static const struct nlp_word recur_dayparts[] = {
    {"morning", 9}, {"afternoon", 15}, {"evening", 19}, {"night", 20}, {NULL, 0},
};

static const struct nlp_word targets[] = {
    {"it|this|that|them", NLP_T_IT}, {"that|this one|task|item", NLP_T_IT},
    {"the task|item|todo", NLP_T_IT},
    {"the next one|occurrence", NLP_T_IT}, {"next one", NLP_T_IT}, {"it's", NLP_T_IT},
    {"all|everything", NLP_T_ALL}, {"them all", NLP_T_ALL}, {"all of them", NLP_T_ALL},
    {"all [my|the] tasks", NLP_T_ALL}, {"all of my|the tasks", NLP_T_ALL},
    {"both", NLP_T_ALL}, {NULL, 0},
};

/* 0: dropped before a title reference; 1: after it. */
static const struct nlp_word target_strip[] = {
    {"the|my", 0}, {"task|item|todo called|named|titled", 0}, {"task|item|todo", 0},
    {"task|tasks|one|item", 1}, {NULL, 0},
};

/* A title reference made of these words only is none ("mark as done"). */
static const struct nlp_word stopwords[] = {
    {"as|to|with|for|and|of|in|on|at|a|an|the|is|it|by|from|me|my", 0}, {NULL, 0},
};

/* value 1 on a filler: it asks for a list ("show", "tasks"). */
static const struct nlp_filter_word filters[] = {
    {"today|today's", NLP_F_DUE, TD_NLP_DUE_TODAY},
    {"tomorrow|tomorrow's", NLP_F_DUE, TD_NLP_DUE_TOMORROW},
    {"this week|week's", NLP_F_DUE, TD_NLP_DUE_WEEK},
    {"this week's", NLP_F_DUE, TD_NLP_DUE_WEEK},
    {"the week", NLP_F_DUE, TD_NLP_DUE_WEEK},
    {"next week|week's", NLP_F_DUE, TD_NLP_DUE_NEXT_WEEK},
    {"this month|month's", NLP_F_DUE, TD_NLP_DUE_MONTH},
    {"overdue|late|past-due", NLP_F_DUE, TD_NLP_DUE_OVERDUE},
    {"past due", NLP_F_DUE, TD_NLP_DUE_OVERDUE},
    {"without|sans [a|any] due date", NLP_F_DUE, TD_NLP_DUE_NONE},
    {"without [a|any] deadline|date", NLP_F_DUE, TD_NLP_DUE_NONE},
    {"with no due date", NLP_F_DUE, TD_NLP_DUE_NONE},
    {"with no deadline|date", NLP_F_DUE, TD_NLP_DUE_NONE},
    {"no due date", NLP_F_DUE, TD_NLP_DUE_NONE},
    {"no deadline|date", NLP_F_DUE, TD_NLP_DUE_NONE},
    {"undated|unscheduled", NLP_F_DUE, TD_NLP_DUE_NONE},
    {"high|top priority", NLP_F_PRIO, 3}, {"high-priority|important", NLP_F_PRIO, 3},
    {"medium|normal priority", NLP_F_PRIO, 2}, {"low priority", NLP_F_PRIO, 1},
    {"low-priority", NLP_F_PRIO, 1}, {"urgent|p1", NLP_F_PRIO, 4}, {"p2", NLP_F_PRIO, 3},
    {"p3", NLP_F_PRIO, 2}, {"p4", NLP_F_PRIO, 1},
    {"completed|done|finished|complete|closed", NLP_F_STATUS, TD_NLP_STATUS_COMPLETED},
    {"pending|open|left|remaining|incomplete|unfinished|outstanding", NLP_F_STATUS,
     TD_NLP_STATUS_PENDING},
    {"not done|completed|finished", NLP_F_STATUS, TD_NLP_STATUS_PENDING},
    {"all|everything", NLP_F_STATUS, TD_NLP_STATUS_ALL},
    {"including|incl|with completed|done", NLP_F_STATUS, TD_NLP_STATUS_ALL},
    {"tagged|tag|labelled|labeled", NLP_F_TAGWORD, 0},
    {"with [the] tag|label", NLP_F_TAGWORD, 0},
    {"list|show|tasks|task|todo|todos|to-do|to-dos|what's|whats|which|anything|agenda|"
     "schedule|display|view|items",
     NLP_F_FILLER, 1},
    {"what", NLP_F_FILLER, 1},
    {"me|my|i|do|have|has|are|is|due|for|on|to|plate|coming|up|the|a|any|with|am|there|did|"
     "got|in|of|still|need|that|please|so|far|next|or|and|up|coming",
     NLP_F_FILLER, 0},
    {NULL, 0, 0},
};

/* value 1: "remind me to": the task gets a reminder at its due time. */
static const struct nlp_word add_openers[] = {
    {"add|create|new|make [a|an] [new] [recurring|repeating] task|todo|to-do|item|reminder [to|:]", 0},
    {"add|create|make", 0},
    {"todo|to-do", 0},
    {"i need|have|must to", 0}, {"i need|must", 0}, {"i've got to", 0}, {"i gotta", 0},
    {"don't|dont forget to", 0}, {"remember to", 0}, {"remind me to", 1},
    {"please remind me to", 1}, {"remind me", 1}, {NULL, 0},
};

/* Left at the end of a new task's text: "buy milk to my list". */
static const struct nlp_word add_trailers[] = {
    {"to|on|in|onto [my|the] list|todo|todos|to-do|tasks|agenda", 0},
    {"to|on|in|onto [my|the] todo|to-do|task list", 0}, {NULL, 0},
};

static const struct nlp_word add_fillers[] = {
    {"[a] [new] task|todo|item [to|:]", 0}, {":|-", 0}, {"to", 0}, {NULL, 0},
};

static const struct nlp_word noise[] = {
    {"please|pls|plz|ok|okay|oops|oh|so|hey|well|um|uh|hmm|now|kindly", 0},
    {"never mind", 0}, {"nevermind", 0}, {"can|could|would you [please]", 0},
    {"i want to", 0}, {"i'd like to", 0}, {NULL, 0},
};

static const struct nlp_word trailing_noise[] = {
    {"please|pls|plz|thanks|thx|ty", 0}, {"thank you", 0}, {"for me", 0}, {NULL, 0},
};

static const struct nlp_word smalltalk[] = {
    {"thanks|thx|ty|ok|okay|cool|great|nice|perfect|awesome|bye|goodbye|yes|no|sure|k", 0},
    {"thank you [very] [much]", 0}, {"got it", 0}, {"good job", 0}, {"never mind", 0},
    {"nevermind", 0}, {"that's all", 0}, {NULL, 0},
};

static const struct nlp_pattern patterns[] = {
    /* help */
    {TD_NLP_HELP, "help [me|please] [out]"},
    {TD_NLP_HELP, "hi|hello|hey|hiya|yo|greetings [there]"},
    {TD_NLP_HELP, "commands|usage|menu"},
    {TD_NLP_HELP, "what can you do"},
    {TD_NLP_HELP, "what can i say|do|ask|type"},
    {TD_NLP_HELP, "what are the|your commands"},
    {TD_NLP_HELP, "how does this|it work"},
    {TD_NLP_HELP, "how do|can|should i {any}"},
    {TD_NLP_HELP, "show [me] [the] help|commands"},
    /* undo */
    {TD_NLP_UNDO, "undo [that|it|this]"},
    {TD_NLP_UNDO, "undo [the|my] last [action|change|one|step|thing]"},
    {TD_NLP_UNDO, "revert [that|it|this]"},
    {TD_NLP_UNDO, "revert [the|my] last [action|change|one|step|thing]"},
    {TD_NLP_UNDO, "take that|it back"},
    {TD_NLP_UNDO, "undo what you just did"},
    /* cancel a reminder (before "remove ..." deletes and "remind me" sets) */
    {TD_NLP_UNREMIND, "cancel|remove|delete|clear|drop [the|my|all] reminder|reminders"},
    {TD_NLP_UNREMIND, "cancel|remove|delete|clear|drop [the|my|all] reminder|reminders for|from|on|of|about {obj}"},
    {TD_NLP_UNREMIND, "turn|switch off [the|my] reminder|reminders"},
    {TD_NLP_UNREMIND, "turn|switch off [the|my] reminder|reminders for|on|of|about {obj}"},
    {TD_NLP_UNREMIND, "stop reminding me"},
    {TD_NLP_UNREMIND, "stop reminding me about|of {obj}"},
    {TD_NLP_UNREMIND, "don't|dont remind me [anymore]"},
    {TD_NLP_UNREMIND, "don't|dont remind me about|of {obj}"},
    {TD_NLP_UNREMIND, "do not remind me about|of {obj}"},
    {TD_NLP_UNREMIND, "no [more] reminder|reminders for|on {obj}"},
    /* add with a reminder at the due time */
    {TD_NLP_ADD, "remind me to {addr}"},
    {TD_NLP_ADD, "set|add|create|make [a|an] {rec} reminder {addr}"},
    /* set a reminder */
    {TD_NLP_REMIND, "remind me"},
    {TD_NLP_REMIND, "remind me about|of {obj} {rem}"},
    {TD_NLP_REMIND, "remind me about|of {obj}"},
    {TD_NLP_REMIND, "remind me {dur} before {obj}"},
    {TD_NLP_REMIND, "remind me {rem} about|of {obj}"},
    {TD_NLP_REMIND, "set|add|create|put [a|the] reminder for|on|to {obj} {rem}"},
    {TD_NLP_REMIND, "set|add|create|put [a|the] reminder {dur} before {obj}"},
    {TD_NLP_REMIND, "set|add|create|put [a|the] reminder {rem} for|on {obj}"},
    {TD_NLP_REMIND, "set|add|create|put [a|the] reminder for|on|to {obj}"},
    {TD_NLP_REMIND, "set|add|create|put [a|the] reminder [for|at] {rem}"},
    /* search */
    {TD_NLP_SEARCH, "search|grep [my] [tasks] for {q}"},
    {TD_NLP_SEARCH, "find|search [me] [all] [the|my] tasks|task about|with|mentioning|containing|matching|for|called|named {q}"},
    {TD_NLP_SEARCH, "find the {q} task|tasks"},
    {TD_NLP_SEARCH, "search|find {q}"},
    {TD_NLP_SEARCH, "look for|up {q}"},
    {TD_NLP_SEARCH, "do i have anything|something|tasks about|on|with|for {q}"},
    {TD_NLP_SEARCH, "is there anything|something about|on|with {q}"},
    {TD_NLP_SEARCH, "any|anything [tasks] mentioning|about|with|containing {q}"},
    {TD_NLP_SEARCH, "which|what tasks mention|mentions|contain|contains {q}"},
    {TD_NLP_SEARCH, "tasks about|mentioning|containing {q}"},
    {TD_NLP_SEARCH, "what|which tasks do i have about|on|with|for {q}"},
    /* skip an occurrence */
    {TD_NLP_SKIP, "skip [the] next occurrence|instance|one of {obj}"},
    {TD_NLP_SKIP, "skip [the] next occurrence|instance|one"},
    {TD_NLP_SKIP, "skip [the] next"},
    {TD_NLP_SKIP, "skip today's|tomorrow's|tonight's {obj}"},
    {TD_NLP_SKIP, "skip this|next week's {obj}"},
    {TD_NLP_SKIP, "skip {obj} this|next week|time|month"},
    {TD_NLP_SKIP, "skip {obj} today|tomorrow|tonight|once"},
    {TD_NLP_SKIP, "skip {obj}"},
    /* reopen (before complete: "mark it as not done") */
    {TD_NLP_REOPEN, "reopen|re-open|uncomplete|uncheck|unfinish|untick|restore {obj}"},
    {TD_NLP_REOPEN, "mark {obj} [as] not done|complete|completed|finished"},
    {TD_NLP_REOPEN, "mark {obj} [as] undone|incomplete|pending|open|unfinished|todo|uncompleted|active"},
    {TD_NLP_REOPEN, "i didn't|didnt|haven't finish|finished|complete|completed|do|done {obj}"},
    {TD_NLP_REOPEN, "i did not|have not finish|finished|complete|completed|do|done {obj}"},
    {TD_NLP_REOPEN, "{obj} is|isn't not done|finished|complete"},
    {TD_NLP_REOPEN, "{obj} isn't done|finished|complete"},
    {TD_NLP_REOPEN, "undo completion|completing of {obj}"},
    /* complete */
    {TD_NLP_COMPLETE, "done|finished|completed|complete"},
    {TD_NLP_COMPLETE, "it's|that's|its done|finished|complete|completed"},
    {TD_NLP_COMPLETE, "all done"},
    {TD_NLP_COMPLETE, "mark as done|complete|completed|finished"},
    {TD_NLP_COMPLETE, "complete|finish|finished|completed|close {obj}"},
    {TD_NLP_COMPLETE, "i'm|im done with {obj}"},
    {TD_NLP_COMPLETE, "done with {obj}"},
    {TD_NLP_COMPLETE, "check|tick|cross off {obj}"},
    {TD_NLP_COMPLETE, "check|tick|cross {obj} off"},
    {TD_NLP_COMPLETE, "mark {obj} [as] done|complete|completed|finished|checked"},
    {TD_NLP_COMPLETE, "i finished|completed|did {obj}"},
    {TD_NLP_COMPLETE, "i've|ive finished|done|completed {obj}"},
    {TD_NLP_COMPLETE, "i have finished|done|completed {obj}"},
    {TD_NLP_COMPLETE, "{obj} is|are|was done|finished|complete|completed"},
    {TD_NLP_COMPLETE, "{obj} has|have been done|finished|completed"},
    /* update: rename */
    {TD_NLP_UPDATE, "rename {obj} to|as|into {title}"},
    {TD_NLP_UPDATE, "change|set|update [the] title|name of|for {obj} to {title}"},
    {TD_NLP_UPDATE, "change|set|update [the] title|name to {title}"},
    {TD_NLP_UPDATE, "change|set|update its title|name to {title}"},
    {TD_NLP_UPDATE, "call it {title} instead"},
    {TD_NLP_UPDATE, "retitle {obj} [to|as] {title}"},
    {TD_NLP_UPDATE, "rename {obj} {title}"},
    /* update: description */
    {TD_NLP_UPDATE, "set|change|update [the] description|note|notes|details of|for|on {obj} to {desc}"},
    {TD_NLP_UPDATE, "set|change|update [the] description|note|notes|details to {desc}"},
    {TD_NLP_UPDATE, "add [a|the] note|description|details to {obj} : {desc}"},
    {TD_NLP_UPDATE, "add [a|the] note|description|details to {obj} saying {desc}"},
    {TD_NLP_UPDATE, "add [a|the] note|description|details {desc} to {obj}"},
    {TD_NLP_UPDATE, "describe {obj} as {desc}"},
    /* update: priority */
    {TD_NLP_UPDATE, "make|mark {obj} [as] [a] {prio}"},
    {TD_NLP_UPDATE, "set|change|update|raise|lower [the] priority of|for|on {obj} to {prio}"},
    {TD_NLP_UPDATE, "set|change|update [the] priority to {prio}"},
    {TD_NLP_UPDATE, "set|change|update its priority to {prio}"},
    {TD_NLP_UPDATE, "set|change|update {obj} priority to {prio}"},
    {TD_NLP_UPDATE, "set|change {obj} to {prio}"},
    {TD_NLP_UPDATE, "set|change|give [the] priority {prio} on|for|to {obj}"},
    {TD_NLP_UPDATE, "prioritize|prioritise {obj}"},
    /* update: recurrence */
    {TD_NLP_UPDATE, "make|set|have {obj} [to] repeat|recur|happen {rec}"},
    {TD_NLP_UPDATE, "change|set|update [the] recurrence|repeat|schedule of|for {obj} to {rec}"},
    {TD_NLP_UPDATE, "change|set|update [the] recurrence|repeat|schedule to {rec}"},
    {TD_NLP_UPDATE, "repeat {obj} {rec}"},
    {TD_NLP_UPDATE, "make {obj} {rec}"},
    /* update: no due date */
    {TD_NLP_UPDATE, "remove|clear|delete|drop|unset [the] due date {nodue}"},
    {TD_NLP_UPDATE, "remove|clear|delete|drop|unset [the] deadline {nodue}"},
    {TD_NLP_UPDATE, "remove|clear|delete|drop|unset [the] due date from|of|on|for {obj} {nodue}"},
    {TD_NLP_UPDATE, "remove|clear|delete|drop|unset [the] deadline from|of|on|for {obj} {nodue}"},
    {TD_NLP_UPDATE, "change|set|update [the] due date to none|nothing|never {nodue}"},
    {TD_NLP_UPDATE, "change|set|update [the] due date of|for {obj} to none|nothing|never {nodue}"},
    {TD_NLP_UPDATE, "make {obj} undated {nodue}"},
    /* update: due date */
    {TD_NLP_UPDATE, "move|reschedule|postpone|push|delay|defer|shift|bump {obj} to|for|until|till|back {when}"},
    {TD_NLP_UPDATE, "move|reschedule|postpone|push|delay|defer {obj} {when}"},
    {TD_NLP_UPDATE, "change|set|update [the] due date|time of|for {obj} to {when}"},
    {TD_NLP_UPDATE, "change|set|update [the] due date|time to {when}"},
    {TD_NLP_UPDATE, "change|set|update [the] deadline of|for {obj} to {when}"},
    {TD_NLP_UPDATE, "make {obj} due {when}"},
    {TD_NLP_UPDATE, "change|set|update|move|push {obj} deadline to|for {when}"},
    {TD_NLP_UPDATE, "change|set|update|move|push {obj} due date to|for {when}"},
    {TD_NLP_UPDATE, "change|set {obj} to {when}"},
    /* update: tags */
    {TD_NLP_UPDATE, "tag|label {obj} [with|as] {tags}"},
    {TD_NLP_UPDATE, "add {tagsx} to {obj}"},
    {TD_NLP_UPDATE, "remove|delete|drop {untags} from {obj}"},
    {TD_NLP_UPDATE, "untag {untags} from {obj}"},
    {TD_NLP_UPDATE, "take {untags} off [of] {obj}"},
    /* a verb alone: the chat asks what about */
    {TD_NLP_DELETE, "delete|remove|erase|trash"},
    {TD_NLP_ADD, "add|create|new [a] [new] [task|todo|reminder]"},
    {TD_NLP_ADD, "remind me to"},
    /* delete */
    {TD_NLP_DELETE, "delete|remove|erase|trash|drop|cancel|discard|scrap|clear|purge {obj}"},
    {TD_NLP_DELETE, "get rid of {obj}"},
    {TD_NLP_DELETE, "forget about {obj}"},
    {TD_NLP_DELETE, "throw away|out {obj}"},
    {TD_NLP_UNKNOWN, NULL},
};

const struct nlp_lang td_nlp_lang_en = {
    .name = "en",
    .kw =
        {
            .at = "at|@",
            .on_date = "on|by|due|for|until|till|before|starting|from|beginning",
            .in = "in|within",
            .to = "to",
            .the = "the",
            .of = "of",
            .and = "and|&|plus",
            .this_ = "this|coming",
            .next = "next",
            .every = "every|each",
            .other = "other",
            .before = "before|prior|ahead|earlier",
            .end = "end",
            .month = "month",
            .week = "week",
            .weekend = "weekend",
            .day = "day",
            .last = "last",
            .one = "one|task",
            .number = "number|no|item",
            .task = "task|todo|item",
            .me = "me|us",
            .am = "am|a.m|a.m.",
            .pm = "pm|p.m|p.m.",
            .noon = "noon|midday|mid-day",
            .midnight = "midnight",
            .remind = "remind",
            .reminder = "reminder|reminders|alert|alarm",
            .with = "with",
            .a = "a|an",
            .after_done = "after completion|completing|done|finishing|completed|done",
            .weekday = "weekday|weekdays|workday|workdays",
            .weekend_days = "weekend|weekends",
            .tag = "tag|tags|label|labels",
            .all = "all|every|everything",
            .by_time = "by|until|till|before",
            .or = "or",
            .on = "on",
        },
    .weekdays = weekdays,
    .months = months,
    .numbers = numbers,
    .ordinals = ordinals,
    .ordinal_suffixes = "st|nd|rd|th",
    .units = units,
    .relative_days = relative_days,
    .dayparts = dayparts,
    .daypart_days = daypart_days,
    .month_ends = month_ends,
    .year_ends = year_ends,
    .plural_weekdays = plural_weekdays,
    .weekends = weekends,
    .next_periods = next_periods,
    .priorities = priorities,
    .edge_priorities = edge_priorities,
    .recur_words = recur_words,
    .recur_dayparts = recur_dayparts,
    .targets = targets,
    .target_strip = target_strip,
    .stopwords = stopwords,
    .filters = filters,
    .add_openers = add_openers,
    .add_fillers = add_fillers,
    .add_trailers = add_trailers,
    .noise = noise,
    .trailing_noise = trailing_noise,
    .smalltalk = smalltalk,
    .patterns = patterns,
};
