/* Parse rate of the language engine: every phrase of tests/nlp/*.tsv through td_nlp_parse,
 * round after round for a few seconds on one core, each call timed. Prints messages parsed
 * per second and the p50/p99/max parse time, for the whole mix and for the chat's
 * "add ... tomorrow at 9". Usage: bench_nlp SOURCE_ROOT [SECONDS] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/nlp.h"

#define MAX_PHRASES 2048

static double mono(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void run(const char *label, char **phrases, int n, double seconds)
{
    const long long now_ms = 1804705200000LL; /* 2027-03-10T19:00:00Z */
    size_t cap = 1 << 22, count = 0;
    double *t = malloc(cap * sizeof *t);
    if (!t)
        exit(1);
    struct td_nlp_result r;
    double start = mono(), end = start + seconds, busy = 0;
    while (mono() < end && count + (size_t)n < cap) {
        for (int i = 0; i < n; i++) {
            double a = mono();
            if (td_nlp_parse(phrases[i], strlen(phrases[i]), now_ms, "America/New_York", &r) < 0) {
                fprintf(stderr, "parse failed: %s\n", phrases[i]);
                exit(1);
            }
            double d = mono() - a;
            busy += d;
            t[count++] = d;
        }
    }
    qsort(t, count, sizeof *t, cmp);
    printf("%-34s %9.0f messages/s  p50 %6.1f us  p99 %6.1f us  max %7.1f us  (%zu parses)\n",
           label, (double)count / busy, t[count / 2] * 1e6, t[(size_t)((double)count * 0.99)] * 1e6,
           t[count - 1] * 1e6, count);
    free(t);
}

int main(int argc, char **argv)
{
    const char *root = argc > 1 ? argv[1] : ".";
    double seconds = argc > 2 ? atof(argv[2]) : 3.0;
    static char *phrases[MAX_PHRASES];
    int n = 0;
    static const char *const files[] = {"tests/nlp/corpus.tsv", "tests/nlp/heldout.tsv"};
    for (size_t f = 0; f < 2; f++) {
        char path[1024], line[4096];
        snprintf(path, sizeof path, "%s/%s", root, files[f]);
        FILE *fp = fopen(path, "r");
        if (!fp) {
            perror(path);
            return 1;
        }
        while (n < MAX_PHRASES && fgets(line, sizeof line, fp)) {
            if (line[0] == '#' || line[0] == '@' || line[0] == '\n')
                continue;
            line[strcspn(line, "\t\n")] = '\0';
            phrases[n++] = strdup(line);
        }
        fclose(fp);
    }
    /* Warm up libical's zone cache before anything is timed. */
    struct td_nlp_result r;
    td_nlp_parse("x", 1, 1804705200000LL, "America/New_York", &r);
    run("corpus mix (all phrases)", phrases, n, seconds);
    char *one[] = {"add call mom tomorrow at 9"};
    run("\"add call mom tomorrow at 9\"", one, 1, seconds);
    for (int i = 0; i < n; i++)
        free(phrases[i]);
    return 0;
}
