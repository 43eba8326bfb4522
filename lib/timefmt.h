/*
 * Times as the suite shows them to an admin, in logs and in tsambactl's
 * output: ISO 8601 in UTC with a Z ("2026-12-04T18:30:00Z"), one format
 * everywhere so that lines sort and grep alike.
 */

#ifndef TSAMBA_TIMEFMT_H
#define TSAMBA_TIMEFMT_H

#include <stddef.h>
#include <time.h>

#define TIME_ISO8601_SIZE	32	/* enough for any time_t, with NUL */

/* t into buf; a time gmtime cannot show is written as its number. */
void	time_iso8601(time_t t, char *buf, size_t bufsz);

#endif
