/* core/tz.c: IANA zone names and wall-clock conversions. Names are checked against a set
 * read from tzdata once, so validating a request's zone costs no file I/O on the loop. */
#include "core/tz.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libical/ical.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The characters IANA names use, nothing that climbs out of a directory. posix/ and right/
 * are build variants, not names (right/ counts leap seconds and would shift every
 * time). */
static bool zone_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > TD_TZ_NAME_MAX || strstr(name, "..") || strstr(name, "//"))
        return false;
    if (name[0] == '/' || name[0] == '-' || name[n - 1] == '/')
        return false;
    if (!strncmp(name, "posix/", 6) || !strncmp(name, "right/", 6) || !strcmp(name, "localtime"))
        return false; /* localtime is whatever the host runs on, not a zone name */
    for (const char *p = name; *p; p++) {
        char c = *p;
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '+' || c == '-' || c == '/';
        if (!ok)
            return false;
    }
    return true;
}

/* ---------- the set of zone names ---------- */

/* Sorted for bsearch. Built before the loop runs, so a request never reads tzdata. */
struct zone_set {
    char  **names;
    size_t  count, cap;
};

static struct zone_set zones;
static bool loaded;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_rc;

static void set_free(struct zone_set *set)
{
    for (size_t i = 0; i < set->count; i++)
        free(set->names[i]);
    free(set->names);
    *set = (struct zone_set){0};
}

static int set_add(struct zone_set *set, const char *name)
{
    if (set->count == set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 512;
        char **names = realloc(set->names, cap * sizeof *names);
        if (!names)
            return -ENOMEM;
        set->names = names, set->cap = cap;
    }
    if (!(set->names[set->count] = strdup(name)))
        return -ENOMEM;
    set->count++;
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The directory also holds zone.tab, tzdata.zi and friends: only TZif files are zones. */
static bool is_tzif(int dirfd, const char *file)
{
    int fd = openat(dirfd, file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return false;
    char magic[4];
    bool ok = read(fd, magic, sizeof magic) == (ssize_t)sizeof magic &&
              memcmp(magic, "TZif", 4) == 0;
    close(fd);
    return ok;
}

/* Adds the zones under the directory fd (named rel, "" at the top) to set; takes fd.
 * Symbolic links are followed, as a lookup by path would; names stop growing at
 * TD_TZ_NAME_MAX, which also ends any loop of links. */
static int walk(int fd, const char *rel, struct zone_set *set)
{
    DIR *d = fdopendir(fd);
    if (!d) {
        int rc = -errno;
        close(fd);
        return rc;
    }
    int rc = 0;
    struct dirent *e;
    while (!rc && (e = readdir(d))) {
        char name[TD_TZ_NAME_MAX + 2];
        if (e->d_name[0] == '.')
            continue; /* ".", ".." and hidden files: no zone name starts with a dot */
        int n = snprintf(name, sizeof name, "%s%s%s", rel, *rel ? "/" : "", e->d_name);
        if (n < 0 || n > TD_TZ_NAME_MAX || !zone_name_ok(name))
            continue;
        if (!*rel && (!strcmp(name, "posix") || !strcmp(name, "right")))
            continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, 0) != 0)
            continue; /* a dangling link */
        if (S_ISDIR(st.st_mode)) {
            int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (sub >= 0 && walk(sub, name, set) == -ENOMEM)
                rc = -ENOMEM;
        } else if (S_ISREG(st.st_mode) && is_tzif(dirfd(d), e->d_name)) {
            rc = set_add(set, name);
        }
    }
    closedir(d);
    return rc;
}

int td_tz_load(const char *dir)
{
    if (!dir)
        return -EINVAL;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct zone_set set = {0};
    int rc = walk(fd, "", &set);
    if (!rc && set.count == 0)
        rc = -ENOENT;
    if (rc) {
        set_free(&set);
        return rc;
    }
    qsort(set.names, set.count, sizeof *set.names, cmp_names);
    set_free(&zones);
    zones = set;
    loaded = true;
    return 0;
}

static void init_now(void)
{
    if (!loaded)
        init_rc = td_tz_load(TD_TZ_DIR);
    /* libical reads zone.tab on its first zone lookup; better here than on a request. */
    icaltimezone_get_builtin_timezones();
}

int td_tz_init(void)
{
    pthread_once(&init_once, init_now);
    return init_rc;
}

int td_tz_valid(const char *name)
{
    if (!name || !zone_name_ok(name))
        return 0;
    td_tz_init();
    return zones.count &&
           bsearch(&name, zones.names, zones.count, sizeof *zones.names, cmp_names) != NULL;
}

/* ---------- wall clock and UTC ---------- */

/* libical's zone for a valid name. Unknown names never reach libical: it would look for
 * them on disk on every call. */
static icaltimezone *zone_get(const char *zone)
{
    if (!td_tz_valid(zone))
        return NULL;
    return !strcmp(zone, "UTC") ? icaltimezone_get_utc_timezone()
                                : icaltimezone_get_builtin_timezone(zone);
}

static struct icaltimetype ical_time(const struct td_datetime_civil *c)
{
    struct icaltimetype tt = icaltime_null_time();
    tt.year = c->year, tt.month = c->month, tt.day = c->day;
    tt.hour = c->hour, tt.minute = c->minute, tt.second = c->second;
    return tt;
}

/* The zone's UTC offset, in seconds, at the UTC instant t (clamped to the four-digit
 * years, where every zone's rules are plain). */
static int offset_at(icaltimezone *z, long long t, long long *off)
{
    struct td_datetime_civil u;
    if (t < TD_DATETIME_MIN)
        t = TD_DATETIME_MIN;
    if (t > TD_DATETIME_MAX)
        t = TD_DATETIME_MAX;
    int rc = td_datetime_split(t, &u);
    if (rc)
        return rc;
    struct icaltimetype tt = ical_time(&u);
    int is_dst = 0;
    *off = icaltimezone_get_utc_offset_of_utc_time(z, &tt, &is_dst);
    return 0;
}

/* libical's own answer for a wall-clock time (icaltimezone_get_utc_offset) takes the
 * second occurrence of a repeated time and the later offset inside a gap, the opposite of
 * RFC 5545. So the instant is worked out from UTC offsets, which are unambiguous: the
 * offsets in force a day before and a day after the wall time (no zone changes twice in
 * two days) give at most two candidates, wall - before and wall - after; a candidate
 * is real when the zone shows that wall time at it. Both real: a repeated time, the
 * earlier wins. Neither: a skipped time, read with the offset before the gap. */
int td_tz_local_to_utc(const char *zone, const struct td_datetime_civil *local,
                       long long *utc_s)
{
    if (!zone || !local || !utc_s)
        return -EINVAL;
    icaltimezone *z = zone_get(zone);
    if (!z)
        return -ENOENT;
    long long wall, before, after, at1, at2;
    int rc = td_datetime_join(local, &wall);
    if (rc || (rc = offset_at(z, wall - 86400, &before)) ||
        (rc = offset_at(z, wall + 86400, &after)))
        return rc;
    long long t1 = wall - before, t2 = wall - after, t;
    if ((rc = offset_at(z, t1, &at1)) || (rc = offset_at(z, t2, &at2)))
        return rc;
    bool real1 = at1 == before, real2 = at2 == after;
    if (real1 && real2)
        t = t1 < t2 ? t1 : t2;
    else if (real2)
        t = t2;
    else
        t = t1; /* real, or the gap: the offset before it */
    if (t < TD_DATETIME_MIN || t > TD_DATETIME_MAX)
        return -ERANGE;
    *utc_s = t;
    return 0;
}

int td_tz_utc_to_local(const char *zone, long long utc_s, struct td_datetime_civil *local)
{
    if (!zone || !local)
        return -EINVAL;
    icaltimezone *z = zone_get(zone);
    if (!z)
        return -ENOENT;
    struct td_datetime_civil u;
    int rc = td_datetime_split(utc_s, &u);
    if (rc)
        return rc;
    struct icaltimetype tt = ical_time(&u);
    int is_dst = 0;
    return td_datetime_split(utc_s + icaltimezone_get_utc_offset_of_utc_time(z, &tt, &is_dst),
                             local);
}
