/*
 * timefmt: a time as ISO 8601 text with its UTC offset (timefmt.h).
 */

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "timefmt.h"

void
time_iso8601(time_t t, char *buf, size_t bufsz)
{
	struct tm	 tm;
	size_t		 n;
	long		 off;

	if (bufsz == 0)
		return;
	if (localtime_r(&t, &tm) == NULL ||
	    (n = strftime(buf, bufsz, "%Y-%m-%dT%H:%M:%S", &tm)) == 0) {
		snprintf(buf, bufsz, "%lld", (long long)t);
		return;
	}
	/* strftime's %z has no colon ("+0100"); RFC 3339 wants one. */
	off = tm.tm_gmtoff / 60;
	snprintf(buf + n, bufsz - n, "%c%02ld:%02ld", off < 0 ? '-' : '+',
	    labs(off) / 60, labs(off) % 60);
}
