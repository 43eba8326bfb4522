/*
 * Writing Received-SPF (RFC 7208 9.1).  The comment says in words what
 * the result means; the pairs (client-ip, envelope-from, helo,
 * receiver, identity, problem) are dot-atoms or quoted strings, so that
 * a sender address from the wire cannot break the field.
 */

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "received_spf.h"

struct out {
	char	*buf;
	size_t	 sz;
	size_t	 len;
	size_t	 col;
	int	 full;
};

static void
put(struct out *o, const char *s, size_t n)
{
	if (o->full || n + 1 > o->sz - o->len) {
		o->full = 1;
		return;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	o->buf[o->len] = '\0';
	o->col += n;
}

static void
puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

/* Text for the comment: no CTLs, parentheses and backslash quoted. */
static void
put_ctext(struct out *o, const char *s)
{
	char	 c[2];

	for (; *s != '\0'; s++) {
		if ((unsigned char)*s < ' ' || (unsigned char)*s >= 0x7f)
			continue;
		if (*s == '(' || *s == ')' || *s == '\\')
			puts_(o, "\\");
		c[0] = *s;
		c[1] = '\0';
		puts_(o, c);
	}
}

static int
is_dot_atom(const char *s)
{
	const char	*p;

	if (*s == '\0' || *s == '.' || s[strlen(s) - 1] == '.' ||
	    strstr(s, "..") != NULL)
		return 0;
	for (p = s; *p != '\0'; p++)
		if (!isascii((unsigned char)*p) ||
		    !(isalnum((unsigned char)*p) || *p == '.' ||
		    strchr("!#$%&'*+-/=?^_`{|}~", *p) != NULL))
			return 0;
	return 1;
}

static void
pair(struct out *o, const char *key, const char *value)
{
	const char	*p;
	char		 c[3];

	if (value == NULL || value[0] == '\0')
		return;
	if (o->col + strlen(key) + strlen(value) + 4 > 78) {
		puts_(o, "\r\n\t");
		o->col = 8;
	} else
		puts_(o, " ");
	puts_(o, key);
	puts_(o, "=");
	if (is_dot_atom(value) && strchr(value, '@') == NULL)
		puts_(o, value);
	else {
		puts_(o, "\"");
		for (p = value; *p != '\0'; p++) {
			if ((unsigned char)*p < ' ' ||
			    (unsigned char)*p >= 0x7f)
				continue;
			c[0] = *p;
			c[1] = c[2] = '\0';
			if (*p == '"' || *p == '\\') {
				c[0] = '\\';
				c[1] = *p;
			}
			puts_(o, c);
		}
		puts_(o, "\"");
	}
	puts_(o, ";");
}

static void
comment(struct out *o, const struct received_spf *r)
{
	const char	*res = r->result;

	puts_(o, " (");
	put_ctext(o, r->receiver);
	puts_(o, ": ");
	if (strcmp(res, "pass") == 0 || strcmp(res, "fail") == 0 ||
	    strcmp(res, "softfail") == 0) {
		puts_(o, "domain of ");
		if (strcmp(res, "softfail") == 0)
			puts_(o, "transitioning ");
		put_ctext(o, r->sender);
		puts_(o, strcmp(res, "pass") == 0 ? " designates " :
		    " does not designate ");
		put_ctext(o, r->ip);
		puts_(o, " as permitted sender");
	} else if (strcmp(res, "neutral") == 0) {
		put_ctext(o, r->ip);
		puts_(o, " is neither permitted nor denied by domain of ");
		put_ctext(o, r->sender);
	} else if (strcmp(res, "none") == 0) {
		puts_(o, "domain of ");
		put_ctext(o, r->sender);
		puts_(o, " does not designate permitted sender hosts");
	} else {
		puts_(o, strcmp(res, "temperror") == 0 ?
		    "temporary error" : "permanent error");
		puts_(o, " in processing the domain of ");
		put_ctext(o, r->sender);
	}
	puts_(o, ")");
}

int
received_spf_field(const struct received_spf *r, char *buf, size_t bufsz)
{
	struct out	 o;

	memset(&o, 0, sizeof(o));
	o.buf = buf;
	o.sz = bufsz;
	if (bufsz == 0)
		return -1;
	buf[0] = '\0';
	puts_(&o, "Received-SPF: ");
	puts_(&o, r->result);
	comment(&o, r);
	pair(&o, "client-ip", r->ip);
	pair(&o, "envelope-from", r->sender);
	pair(&o, "helo", r->helo);
	pair(&o, "receiver", r->receiver);
	pair(&o, "identity", r->helo_identity ? "helo" : "mailfrom");
	if (r->problem != NULL)
		pair(&o, "problem", r->problem);
	/* The last pair's ";" is optional; drop it. */
	if (!o.full && o.len > 0 && buf[o.len - 1] == ';')
		buf[--o.len] = '\0';
	puts_(&o, "\r\n");
	return o.full ? -1 : (int)o.len;
}
