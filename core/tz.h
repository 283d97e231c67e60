/* IANA time zones: which names are valid, and conversions between a zone's wall clock and
 * UTC. The zone rules come from the system tzdata through libical. */
#ifndef TD_TZ_H
#define TD_TZ_H
#include "core/datetime.h"

#define TD_TZ_DIR "/usr/share/zoneinfo"
#define TD_TZ_NAME_MAX 64

/* Builds the set of valid zone names from TD_TZ_DIR, once: every TZif file under it
 * except the posix/ and right/ variants and localtime. The process runtime calls it before
 * the event loop runs; the first td_tz_valid calls it otherwise. Also has libical read its
 * zone index now rather than on a request. Returns 0, or the negative errno of the first
 * attempt (the set is then empty and every name invalid; no later call retries). */
int td_tz_init(void);

/* Replaces the set with the zones found under dir. For start-up and tests: it must not run
 * while another thread looks names up. On failure (-ENOENT when dir has no zone) the
 * previous set stays. */
int td_tz_load(const char *dir);

/* 1 when name is in the set: an IANA zone or alias this machine's tzdata has
 * (Europe/Paris, UTC, Etc/UTC, US/Eastern), else 0. An in-memory search, no file I/O. */
int td_tz_valid(const char *name);

/* The UTC instant of a wall-clock time in zone. A time that a DST change skips or repeats
 * is resolved as RFC 5545 3.3.5 says: a time in a gap is read with the offset in force
 * before the gap (02:30 on New York's spring-forward day is 03:30 EDT, 07:30Z), a
 * repeated time is its first occurrence (01:30 on the fall-back day is 01:30 EDT,
 * 05:30Z). Returns -ENOENT for an unknown zone, -EINVAL for
 * impossible fields, -ERANGE when the instant falls outside years 0001..9999. */
int td_tz_local_to_utc(const char *zone, const struct td_datetime_civil *local,
                       long long *utc_s);

/* The wall-clock time in zone at a UTC instant. Same errors as td_tz_local_to_utc. */
int td_tz_utc_to_local(const char *zone, long long utc_s, struct td_datetime_civil *local);

#endif
