/* core/tz.c: IANA zone names and wall-clock conversions. */
#include "core/tz.h"

#include <errno.h>
#include <fcntl.h>
#include <libical/ical.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Only names made of the characters IANA uses can reach the file system, so no name can
 * climb out of the zoneinfo directory. posix/ and right/ are build variants, not names
 * (right/ counts leap seconds and would shift every time). */
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

int td_tz_valid(const char *name)
{
    if (!name || !zone_name_ok(name))
        return 0;
    char path[sizeof TD_TZ_DIR + TD_TZ_NAME_MAX + 1];
    snprintf(path, sizeof path, "%s/%s", TD_TZ_DIR, name);
    /* The directory also holds zone.tab, tzdata.zi and friends: only TZif files are
     * zones. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return 0;
    struct stat st;
    char magic[4];
    int ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
             read(fd, magic, sizeof magic) == (ssize_t)sizeof magic &&
             memcmp(magic, "TZif", 4) == 0;
    close(fd);
    return ok;
}

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

int td_tz_local_to_utc(const char *zone, const struct td_datetime_civil *local,
                       long long *utc_s)
{
    if (!zone || !local || !utc_s)
        return -EINVAL;
    icaltimezone *z = zone_get(zone);
    if (!z)
        return -ENOENT;
    long long wall;
    int rc = td_datetime_join(local, &wall);
    if (rc)
        return rc;
    struct icaltimetype tt = ical_time(local);
    int is_dst = 0;
    /* Offset in force at that wall-clock time; UTC = local - offset. */
    long long t = wall - icaltimezone_get_utc_offset(z, &tt, &is_dst);
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
