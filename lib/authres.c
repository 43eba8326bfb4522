/*
 * Writing and recognising Authentication-Results (RFC 8601).  Values
 * are written as tokens when they are tokens, else as quoted strings,
 * so that a DKIM b= prefix with '/' or a reason with spaces stays
 * parseable.  One resinfo per line, folded with a tab.
 */

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "authres.h"

#define FOLD_AT		78
#define FIELD_NAME	"Authentication-Results"

/* RFC 2045 token: no CTLs, no space, no tspecials. */
static int
is_token(const char *p)
{
	if (*p == '\0')
		return 0;
	for (; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f ||
		    strchr("()<>@,;:\\\"/[]?=", *p) != NULL)
			return 0;
	return 1;
}

/* local-part@domain with a dot-atom local-part, as pvalue allows. */
static int
is_address(const char *p)
{
	const char	*at = strrchr(p, '@');
	const char	*q;

	if (at == NULL || at == p || at[1] == '\0')
		return 0;
	for (q = p; q < at; q++)
		if (!isascii((unsigned char)*q) || !(isalnum((unsigned
		    char)*q) || strchr("!#$%&'*+-/=?^_`{|}~.", *q) != NULL))
			return 0;
	for (q = at + 1; *q != '\0'; q++)
		if (!isascii((unsigned char)*q) || !(isalnum((unsigned
		    char)*q) || *q == '-' || *q == '.'))
			return 0;
	return p[0] != '.' && at[-1] != '.';
}

static void
put(struct authres *a, const char *s, size_t len)
{
	if (a->full || len + 1 + AUTHRES_END > sizeof(a->buf) - a->len) {
		a->full = 1;
		return;
	}
	memcpy(a->buf + a->len, s, len);
	a->len += len;
	a->buf[a->len] = '\0';
	a->col += len;
}

static void
puts_(struct authres *a, const char *s)
{
	put(a, s, strlen(s));
}

static void
fold(struct authres *a)
{
	puts_(a, "\r\n\t");
	a->col = 8;
}

/* A value: token or address as is, else quoted (control bytes out). */
static void
put_value(struct authres *a, const char *v, int address)
{
	char	 q[512];
	size_t	 o = 0;

	if (is_token(v) || (address && is_address(v))) {
		puts_(a, v);
		return;
	}
	q[o++] = '"';
	for (; *v != '\0' && o < sizeof(q) - 3; v++) {
		if ((unsigned char)*v < ' ' || (unsigned char)*v >= 0x7f)
			continue;
		if (*v == '"' || *v == '\\')
			q[o++] = '\\';
		q[o++] = *v;
	}
	q[o++] = '"';
	put(a, q, o);
}

/* " name=value", folded first if it would pass the fold column. */
static void
prop(struct authres *a, const char *name, const char *value, int address)
{
	if (a->col + strlen(name) + strlen(value) + 2 > FOLD_AT)
		fold(a);
	else
		puts_(a, " ");
	puts_(a, name);
	puts_(a, "=");
	put_value(a, value, address);
}

/* A new resinfo; the ones before are complete. */
static void
method(struct authres *a, const char *name, const char *result)
{
	if (!a->full) {
		a->mark = a->len;
		a->marked = a->methods;
	}
	puts_(a, ";");
	fold(a);
	puts_(a, name);
	puts_(a, "=");
	put_value(a, result, 0);
	a->methods++;
}

void
authres_init(struct authres *a, const char *authserv_id)
{
	memset(a, 0, sizeof(*a));
	puts_(a, FIELD_NAME ": ");
	/* A host name; anything longer is not one. */
	put_value(a, strlen(authserv_id) <= 255 ? authserv_id : "unknown", 0);
}

void
authres_spf(struct authres *a, const char *result, int helo,
    const char *identity)
{
	method(a, "spf", result);
	if (identity != NULL && identity[0] != '\0')
		prop(a, helo ? "smtp.helo" : "smtp.mailfrom", identity, 1);
}

void
authres_dkim(struct authres *a, const struct dkim_result *r)
{
	method(a, "dkim", dkim_result_name(r->result));
	if (r->limited)
		prop(a, "reason", "body partly signed (l=)", 0);
	else if (r->result != DKIM_PASS && r->reason[0] != '\0')
		prop(a, "reason", r->reason, 0);
	if (r->domain[0] != '\0')
		prop(a, "header.d", r->domain, 0);
	if (r->selector[0] != '\0')
		prop(a, "header.s", r->selector, 0);
	if (r->bprefix[0] != '\0') {
		char	 b[9];

		/* Eight characters tell signatures apart (RFC 6008). */
		snprintf(b, sizeof(b), "%.8s", r->bprefix);
		prop(a, "header.b", b, 0);
	}
}

void
authres_dkim_none(struct authres *a)
{
	method(a, "dkim", "none");
}

void
authres_dmarc(struct authres *a, const char *result, const char *policy,
    const char *from_domain)
{
	char	 c[64];

	method(a, "dmarc", result);
	if (policy != NULL) {
		snprintf(c, sizeof(c), " (p=%.20s)", policy);
		puts_(a, c);
	}
	if (from_domain != NULL && from_domain[0] != '\0')
		prop(a, "header.from", from_domain, 0);
}

void
authres_iprev(struct authres *a, const char *result, const char *ip,
    const char *name)
{
	char	 c[300];	/* a host name and " ()" */

	method(a, "iprev", result);
	if (ip != NULL && ip[0] != '\0')
		prop(a, "policy.iprev", ip, 0);
	if (name != NULL && name[0] != '\0' && is_token(name)) {
		(void)snprintf(c, sizeof(c), " (%s)", name);
		if (a->col + strlen(c) > FOLD_AT)
			fold(a);
		puts_(a, c);
	}
}

const char *
authres_field(struct authres *a, size_t *len)
{
	/* What did not fit is left out, from the resinfo it began in. */
	if (a->full) {
		a->len = a->mark;
		a->methods = a->marked;
		a->full = 0;
	}
	/* The end has its reserved room. */
	if (a->methods == 0) {
		memcpy(a->buf + a->len, "; none", 6);
		a->len += 6;
	}
	memcpy(a->buf + a->len, "\r\n", 3);
	a->len += 2;
	if (len != NULL)
		*len = a->len;
	return a->buf;
}

/* Skips FWS and (nested) comments; the new offset. */
static size_t
skip_cfws(const char *p, size_t i, size_t len)
{
	int	 depth = 0;

	while (i < len) {
		if (depth > 0 && p[i] == '\\' && i + 1 < len) {
			i += 2;
			continue;
		}
		if (p[i] == '(')
			depth++;
		else if (p[i] == ')' && depth > 0)
			depth--;
		else if (depth == 0 && !(p[i] == ' ' || p[i] == '\t' ||
		    p[i] == '\r' || p[i] == '\n'))
			break;
		i++;
	}
	return i;
}

int
authres_is_ours(const char *p, size_t len, const char *id)
{
	char	 v[256];
	size_t	 i, nl = strlen(FIELD_NAME), o = 0;

	if (len < nl || strncasecmp(p, FIELD_NAME, nl) != 0)
		return 0;
	for (i = nl; i < len && (p[i] == ' ' || p[i] == '\t'); i++)
		;
	if (i == len || p[i++] != ':')
		return 0;
	i = skip_cfws(p, i, len);
	if (i < len && p[i] == '"') {
		for (i++; i < len && p[i] != '"'; i++) {
			if (p[i] == '\\' && i + 1 < len)
				i++;
			if (o == sizeof(v) - 1)
				return 0;
			v[o++] = p[i];
		}
		if (i == len)
			return 0;
	} else
		for (; i < len && !(p[i] == ' ' || p[i] == '\t' ||
		    p[i] == '\r' || p[i] == '\n' || p[i] == ';' ||
		    p[i] == '('); i++) {
			if (o == sizeof(v) - 1)
				return 0;
			v[o++] = p[i];
		}
	v[o] = '\0';
	return o > 0 && strcasecmp(v, id) == 0;
}
