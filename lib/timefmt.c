/*
 * timefmt: a time as ISO 8601 UTC text (timefmt.h).
 */

#include <stdio.h>
#include <time.h>

#include "timefmt.h"

void
time_iso8601(time_t t, char *buf, size_t bufsz)
{
	struct tm	 tm;

	if (bufsz == 0)
		return;
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, bufsz, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, bufsz, "%lld", (long long)t);
}
