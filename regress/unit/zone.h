/*
 * zone.h: canned DNS for the authentication tests.  A zone is text, one
 * record a line, "name TYPE data": A, AAAA, "MX pref host", PTR, TXT
 * (the rest of the line, as is; or, when it starts with a double quote,
 * a quoted string with the escapes \\ \" \n \r \t \xHH, for text a
 * line cannot hold), or "name SERVFAIL" for a name whose lookups fail.
 * A name may be quoted the same way.  A name without any record is
 * NXDOMAIN; a line "name EXISTS" makes a name that has no data.  The same text
 * is read by regress/integration/test_authcheck.py for python3-spf and
 * python3-dkim, so both sides see the same DNS.
 */

#ifndef TSAMBA_ZONE_H
#define TSAMBA_ZONE_H

#include <arpa/inet.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dnsq.h"

#define ZONE_RR_MAX	1024

struct zone_rr {
	char	*name;
	char	*type;
	char	*data;
	size_t	 datalen;
};

struct zone {
	char		*text;
	size_t		 n;
	struct zone_rr	 rr[ZONE_RR_MAX];
	size_t		 queries;	/* answered so far */
};

static inline int
zone_hex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* A quoted datum, unescaped in place: its length. */
static inline size_t
zone_unquote(char *p)
{
	char	*in = p + 1, *out = p;

	for (; *in != '\0' && *in != '"'; in++) {
		if (*in != '\\' || in[1] == '\0') {
			*out++ = *in;
			continue;
		}
		switch (*++in) {
		case 'n':
			*out++ = '\n';
			break;
		case 'r':
			*out++ = '\r';
			break;
		case 't':
			*out++ = '\t';
			break;
		case 'x':
			if (zone_hex(in[1]) >= 0 && zone_hex(in[2]) >= 0) {
				*out++ = zone_hex(in[1]) * 16 + zone_hex(in[2]);
				in += 2;
				break;
			}
			/* FALLTHROUGH */
		default:
			*out++ = *in;
		}
	}
	*out = '\0';
	return out - p;
}

/* Splits the text in place; the zone keeps a copy. */
static inline void
zone_load(struct zone *z, const char *text)
{
	char	*line, *next, *p;

	memset(z, 0, sizeof(*z));
	z->text = strdup(text);
	for (line = z->text; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		while (isspace((unsigned char)*line))
			line++;
		if (*line == '\0' || *line == '#' || z->n == ZONE_RR_MAX)
			continue;
		z->rr[z->n].name = line;
		if (*line == '"') {
			/* A quoted name, for names with blanks in them. */
			for (p = line + 1; *p != '\0' && *p != '"'; p++)
				if (*p == '\\' && p[1] != '\0')
					p++;
			if (*p == '"')
				p++;
			if (*p != '\0')
				*p++ = '\0';
			zone_unquote(line);
		} else {
			for (p = line; *p != '\0' &&
			    !isspace((unsigned char)*p); p++)
				;
			if (*p != '\0')
				*p++ = '\0';
		}
		while (isspace((unsigned char)*p))
			p++;
		z->rr[z->n].type = p;
		for (; *p != '\0' && !isspace((unsigned char)*p); p++)
			;
		if (*p != '\0')
			*p++ = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		z->rr[z->n].data = p;
		z->rr[z->n++].datalen = *p == '"' ? zone_unquote(p) : strlen(p);
	}
}

static inline void
zone_free(struct zone *z)
{
	free(z->text);
}

static inline void
zone_answer(struct zone *z, const struct dnsq_query *q,
    struct dnsq_answer *a)
{
	struct zone_rr	*rr;
	struct in_addr	 in;
	struct in6_addr	 in6;
	char		 host[DNSQ_NAME_MAX];
	unsigned	 pref;
	size_t		 i;
	int		 exists = 0;

	z->queries++;
	dnsq_answer_init(a, DNSQ_NOERROR);
	for (i = 0; i < z->n; i++) {
		rr = &z->rr[i];
		if (strcasecmp(rr->name, q->name) != 0)
			continue;
		exists = 1;
		if (strcmp(rr->type, "SERVFAIL") == 0) {
			dnsq_answer_init(a, DNSQ_SERVFAIL);
			return;
		}
		if (strcmp(rr->type, dnsq_type_name(q->type)) != 0)
			continue;
		switch (q->type) {
		case DNSQ_A:
			if (inet_pton(AF_INET, rr->data, &in) == 1)
				dnsq_answer_add_a(a, &in);
			break;
		case DNSQ_AAAA:
			if (inet_pton(AF_INET6, rr->data, &in6) == 1)
				dnsq_answer_add_aaaa(a, &in6);
			break;
		case DNSQ_MX:
			if (sscanf(rr->data, "%u %255s", &pref, host) == 2)
				dnsq_answer_add_name(a, DNSQ_MX, pref, host);
			break;
		case DNSQ_PTR:
			dnsq_answer_add_name(a, DNSQ_PTR, 0, rr->data);
			break;
		case DNSQ_TXT:
			dnsq_answer_add_txt(a, rr->data, rr->datalen);
			break;
		}
	}
	if (!exists)
		a->rcode = DNSQ_NXDOMAIN;
}

#endif
