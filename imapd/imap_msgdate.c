/*
 * imap_msgdate: a message's Date: field (RFC 5322 3.3 and the obsolete
 * forms of 4.3: two- and three-digit years, named and military zones,
 * comments anywhere) read into the instant in UTC, for SORT DATE and
 * THREAD (RFC 5256's sent date), and into the date as written, which
 * SENTBEFORE, SENTON and SENTSINCE compare (RFC 9051 6.4.4).  The day
 * of the week is skipped, not checked, as most readers do.
 */

#include <sys/types.h>

#include <ctype.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "imap_sortkey.h"

#define DATE_MAX	256

static const char *const date_months[12] = { "jan", "feb", "mar", "apr",
    "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec" };

static const struct {
	const char	*name;
	int		 off;		/* minutes east */
} date_zones[] = {
	{ "UT", 0 }, { "UTC", 0 }, { "GMT", 0 }, { "Z", 0 },
	{ "EST", -300 }, { "EDT", -240 }, { "CST", -360 }, { "CDT", -300 },
	{ "MST", -420 }, { "MDT", -360 }, { "PST", -480 }, { "PDT", -420 },
};

/* Comments become blanks, so that the rest is words and digits. */
static int
date_uncomment(const char *s, char *out, size_t size)
{
	size_t	 o = 0;
	int	 depth = 0;

	for (; *s != '\0'; s++) {
		if (o + 1 >= size)
			return -1;
		if (*s == '\\' && depth > 0 && s[1] != '\0')
			s++;
		else if (*s == '(')
			depth++;
		else if (*s == ')' && depth > 0)
			depth--;
		else if (depth == 0) {
			out[o++] = *s;
			continue;
		}
		out[o++] = ' ';
	}
	out[o] = '\0';
	return 0;
}

static const char *
date_blank(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	return p;
}

/* 1 to max digits: the value, or -1. */
static int
date_num(const char **pp, int max, int *ndig)
{
	const char	*p = *pp;
	int		 v = 0, n = 0;

	while (n < max && isdigit((unsigned char)*p)) {
		v = v * 10 + (*p++ - '0');
		n++;
	}
	if (n == 0)
		return -1;
	*pp = p;
	if (ndig != NULL)
		*ndig = n;
	return v;
}

/* The zone in minutes east; an unknown one counts as UTC (-0000). */
static int
date_zone(const char *p)
{
	size_t	 i, n;
	int	 sign, v, nd;

	if (*p == '+' || *p == '-') {
		sign = *p == '-' ? -1 : 1;
		p++;
		if ((v = date_num(&p, 4, &nd)) == -1 || nd != 4)
			return 0;
		if (v / 100 > 23 || v % 100 > 59)
			return 0;
		return sign * (v / 100 * 60 + v % 100);
	}
	for (n = 0; isalpha((unsigned char)p[n]); n++)
		;
	for (i = 0; i < sizeof(date_zones) / sizeof(date_zones[0]); i++)
		if (strlen(date_zones[i].name) == n &&
		    strncasecmp(p, date_zones[i].name, n) == 0)
			return date_zones[i].off;
	return 0;
}

static int
date_month(const char **pp)
{
	const char	*p = *pp;
	int		 i;

	for (i = 0; i < 12; i++)
		if (strncasecmp(p, date_months[i], 3) == 0)
			break;
	if (i == 12)
		return -1;
	while (isalpha((unsigned char)*p))
		p++;
	*pp = p;
	return i + 1;
}

int
imap_msgdate(const char *s, time_t *utc, int *ymd)
{
	char		 buf[DATE_MAX];
	const char	*p;
	struct tm	 tm;
	int		 day, mon, year, hh, mm, ss = 0, nd;
	time_t		 t;

	if (date_uncomment(s, buf, sizeof(buf)) == -1)
		return -1;
	p = date_blank(buf);
	if (isalpha((unsigned char)*p)) {	/* day-of-week "," */
		while (isalpha((unsigned char)*p))
			p++;
		p = date_blank(p);
		if (*p == ',')
			p = date_blank(p + 1);
	}
	if ((day = date_num(&p, 2, NULL)) == -1)
		return -1;
	p = date_blank(p);
	if (*p == '-')
		p++;
	if ((mon = date_month(&p)) == -1)
		return -1;
	p = date_blank(p);
	if (*p == '-')
		p++;
	if ((year = date_num(&p, 4, &nd)) == -1)
		return -1;
	if (nd == 2)
		year += year < 50 ? 2000 : 1900;
	else if (nd == 3)
		year += 1900;
	p = date_blank(p);
	if ((hh = date_num(&p, 2, NULL)) == -1)
		return -1;
	p = date_blank(p);
	if (*p++ != ':')
		return -1;
	p = date_blank(p);
	if ((mm = date_num(&p, 2, NULL)) == -1)
		return -1;
	p = date_blank(p);
	if (*p == ':') {
		p = date_blank(p + 1);
		if ((ss = date_num(&p, 2, NULL)) == -1)
			return -1;
	}
	if (day < 1 || day > 31 || year < 1900 || hh > 23 || mm > 59 ||
	    ss > 60)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss;
	if ((t = timegm(&tm)) == -1)
		return -1;
	*utc = t - (time_t)date_zone(date_blank(p)) * 60;
	*ymd = year * 10000 + mon * 100 + day;
	return 0;
}
