/*
 * The RFC5322.From domain.  The value is read once, left to right, at
 * the top level only: comments (nested) and quoted strings are skipped
 * whole, so an "@" or "<" inside them means nothing.  A mailbox ends at
 * a top-level comma or ';' (end of a group), its address is what is in
 * <...> if there is an angle-addr, else the whole mailbox, and its
 * domain is what follows the address's last top-level "@".
 */

#include <ctype.h>
#include <string.h>

#include "author.h"

#define DOMAIN_MAX	253

struct author_scan {
	char	 domain[DOMAIN_MAX + 1];	/* the first one found */
	int	 found;
	int	 several;
	int	 bad;
	/* The current mailbox. */
	char	 cur[DOMAIN_MAX + 2];		/* after its last "@" */
	size_t	 curlen;
	int	 at;				/* an "@" seen */
	int	 angle;			/* 0 none, 1 inside, 2 closed */
	int	 gap;			/* white space after the domain */
	int	 overlong;
};

static void
mailbox_start(struct author_scan *s)
{
	s->curlen = 0;
	s->at = 0;
	s->angle = 0;
	s->gap = 0;
	s->overlong = 0;
}

/* A domain as DMARC can look it up: LDH labels, no literal. */
static int
domain_ok(const char *d)
{
	size_t	 len = strlen(d), i, label = 0;

	if (len == 0 || len > DOMAIN_MAX || d[0] == '.' || d[len - 1] == '.')
		return 0;
	for (i = 0; i < len; i++) {
		if (d[i] == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!isascii((unsigned char)d[i]) ||
		    !(isalnum((unsigned char)d[i]) || d[i] == '-' ||
		    d[i] == '_') || ++label > 63)
			return 0;
	}
	return strchr(d, '.') != NULL;
}

static void
mailbox_end(struct author_scan *s)
{
	char	 d[DOMAIN_MAX + 2];
	size_t	 i;

	if (!s->at && s->curlen == 0 && s->angle == 0)
		return;			/* an empty list element */
	if (!s->at || s->angle == 1 || s->overlong) {
		s->bad = 1;
		return;
	}
	for (i = 0; i < s->curlen; i++)
		d[i] = tolower((unsigned char)s->cur[i]);
	d[i] = '\0';
	if (!domain_ok(d)) {
		s->bad = 1;
		return;
	}
	if (!s->found) {
		memcpy(s->domain, d, i + 1);
		s->found = 1;
	} else if (strcmp(s->domain, d) != 0)
		s->several = 1;
}

/* Characters of the address (not of a display name) go here. */
static void
addr_char(struct author_scan *s, char c)
{
	/* "a@x.test b@y.test": two addresses where one should be. */
	if (s->gap) {
		s->bad = 1;
		return;
	}
	if (c == '@') {
		s->at = 1;
		s->curlen = 0;
		return;
	}
	if (!s->at)
		return;
	if (s->curlen == sizeof(s->cur) - 1) {
		s->overlong = 1;
		return;
	}
	s->cur[s->curlen++] = c;
}

/* Skips a comment or quoted string starting at p[i]; the index after. */
static size_t
skip_nested(const char *p, size_t i, size_t len, int *bad)
{
	int	 depth = 0;
	char	 open = p[i];

	for (; i < len; i++) {
		if (p[i] == '\\') {
			i++;
			continue;
		}
		if (open == '"') {
			if (p[i] == '"' && depth++ > 0)
				return i + 1;
			continue;
		}
		if (p[i] == '(')
			depth++;
		else if (p[i] == ')' && --depth == 0)
			return i + 1;
	}
	*bad = 1;
	return len;
}

int
author_domain(const char *p, size_t len, char *out, size_t outsz)
{
	struct author_scan	 s;
	size_t			 i = 0;
	char			 c;

	memset(&s, 0, sizeof(s));
	mailbox_start(&s);
	while (i < len && !s.bad) {
		c = p[i];
		if (c == '"' && s.angle != 2) {
			/* A quoted local part or name: no domain before. */
			s.curlen = 0;
			s.at = 0;
			s.gap = 0;
		}
		if (c == '(' || c == '"') {
			if (c == '(' && s.at && s.curlen > 0)
				s.gap = 1;
			i = skip_nested(p, i, len, &s.bad);
			continue;
		}
		i++;
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			if (s.at && s.curlen > 0)
				s.gap = 1;
			continue;
		}
		if (c == '<') {
			if (s.angle != 0)
				s.bad = 1;
			s.angle = 1;
			s.at = 0;
			s.gap = 0;
			s.curlen = 0;
		} else if (c == '>') {
			if (s.angle != 1)
				s.bad = 1;
			s.angle = 2;
		} else if (c == ',' || c == ';') {
			mailbox_end(&s);
			mailbox_start(&s);
		} else if (c == ':' && s.angle == 0 && !s.at) {
			/* A group name: what came before is no address. */
			mailbox_start(&s);
		} else if (c == '[') {
			s.bad = 1;		/* a domain literal */
		} else if (s.angle != 2)
			addr_char(&s, c);
	}
	if (!s.bad)
		mailbox_end(&s);
	if (s.bad || !s.found)
		return AUTHOR_NONE;
	if (s.several)
		return AUTHOR_SEVERAL;
	if (strlen(s.domain) >= outsz)
		return AUTHOR_NONE;
	memcpy(out, s.domain, strlen(s.domain) + 1);
	return AUTHOR_OK;
}
