/*
 * Times as the suite shows them to an admin, in logs and in tsambactl's
 * output: ISO 8601 / RFC 3339 in local time with the numeric UTC offset
 * ("2026-12-04T18:30:00+00:00", "2026-12-04T19:30:00+01:00"), the form
 * Debian 12's rsyslog writes, one format everywhere so that lines sort
 * and grep alike and say which zone they mean.  The zone is the one
 * tzset() read before the process chrooted (log_init() calls it).
 */

#ifndef TSAMBA_TIMEFMT_H
#define TSAMBA_TIMEFMT_H

#include <stddef.h>
#include <time.h>

#define TIME_ISO8601_SIZE	32	/* enough for any time_t, with NUL */

/* t into buf; a time localtime cannot show is written as its number. */
void	time_iso8601(time_t t, char *buf, size_t bufsz);

#endif
