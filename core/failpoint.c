#include "core/failpoint.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int td_failpoint(const char *point)
{
    const char *list = getenv("TODOD_FAILPOINTS");
    size_t n = strlen(point);
    for (const char *p = list; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
        if (strncmp(p, point, n) == 0 && (p[n] == ',' || p[n] == '\0'))
            return -EFAULT;
    return 0;
}
