/*
 * addr: RFC 5321 paths and mailboxes as they appear in MAIL FROM and
 * RCPT TO, with the RFC 6531 UTF-8 extensions when the session allows
 * them.  The parser follows the ABNF of RFC 5321 4.1.2 and 4.1.3 closely
 * and takes nothing it does not understand: these strings come straight
 * from the network.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdio.h>
#include <string.h>

#include "addr.h"

/*
 * RFC 5321 4.5.3.1.3: a path is at most 256 octets with its "<" and ">",
 * so the mailbox inside is at most 254; it then fits a char[256] with
 * its NUL wherever the suite stores one (ADDR_MAX in proto.h).
 */
#define ADDR_MAILBOX_MAX	254
#define ADDR_LABEL_MAX		63	/* RFC 1035 2.3.4 */

static int	is_atext(unsigned char);
static size_t	utf8_seqlen(const unsigned char *);
static int	parse_dot_string(const char **, struct mailaddr *, int);
static int	parse_quoted_string(const char **, struct mailaddr *, int);
static int	parse_domain(const char **, char *, size_t, int);
static int	parse_literal(const char **, char *, size_t);
static int	parse_route(const char **, int);
static int	parse_mailbox(const char **, struct mailaddr *, int);
static int	local_is_dot_string(const char *);

static int
is_atext(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/*
 * Length of the well-formed UTF-8 sequence (RFC 3629) of a non-ASCII
 * character at p, or 0: no overlong forms, no surrogates, nothing past
 * U+10FFFF.
 */
static size_t
utf8_seqlen(const unsigned char *p)
{
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		return (p[1] & 0xc0) == 0x80 ? 2 : 0;
	if (p[0] >= 0xe0 && p[0] <= 0xef) {
		if ((p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80)
			return 0;
		if (p[0] == 0xe0 && p[1] < 0xa0)
			return 0;	/* overlong */
		if (p[0] == 0xed && p[1] >= 0xa0)
			return 0;	/* surrogate */
		return 3;
	}
	if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		if ((p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 ||
		    (p[3] & 0xc0) != 0x80)
			return 0;
		if (p[0] == 0xf0 && p[1] < 0x90)
			return 0;	/* overlong */
		if (p[0] == 0xf4 && p[1] >= 0x90)
			return 0;	/* past U+10FFFF */
		return 4;
	}
	return 0;
}

/* Dot-string = Atom *("." Atom); atext gains UTF8-non-ascii (RFC 6531). */
static int
parse_dot_string(const char **sp, struct mailaddr *a, int flags)
{
	const unsigned char *s = (const unsigned char *)*sp;
	size_t		 len = 0, n;
	int		 atom = 0;

	for (;;) {
		if (is_atext(*s))
			n = 1;
		else if (*s >= 0x80 && (flags & ADDR_ALLOW_UTF8) &&
		    (n = utf8_seqlen(s)) != 0)
			;
		else if (*s == '.' && atom > 0) {
			atom = 0;
			n = 1;
		} else
			break;
		if (*s != '.')
			atom++;
		if (len + n > ADDR_LOCAL_MAX)
			return -1;
		memcpy(a->local + len, s, n);
		len += n;
		s += n;
	}
	if (atom == 0)		/* empty, or ends with a dot */
		return -1;
	a->local[len] = '\0';
	*sp = (const char *)s;
	return 0;
}

/*
 * Quoted-string = DQUOTE *QcontentSMTP DQUOTE, stored without the quotes
 * and with quoted pairs resolved.
 */
static int
parse_quoted_string(const char **sp, struct mailaddr *a, int flags)
{
	const unsigned char *s = (const unsigned char *)*sp;
	size_t		 len = 0, n;

	if (*s++ != '"')
		return -1;
	for (;;) {
		if (*s == '"')
			break;
		if (*s == '\\') {
			s++;
			if (*s < 32 || *s > 126)
				return -1;
			n = 1;
		} else if (*s >= 32 && *s <= 126)
			n = 1;
		else if (*s >= 0x80 && (flags & ADDR_ALLOW_UTF8) &&
		    (n = utf8_seqlen(s)) != 0)
			;
		else
			return -1;	/* controls, NUL, unterminated */
		if (len + n > ADDR_LOCAL_MAX)
			return -1;
		memcpy(a->local + len, s, n);
		len += n;
		s += n;
	}
	a->local[len] = '\0';
	*sp = (const char *)s + 1;
	return 0;
}

/*
 * Domain = sub-domain *("." sub-domain); sub-domain = Let-dig [Ldh-str],
 * or a U-label under SMTPUTF8.  Stored lowercased.
 */
static int
parse_domain(const char **sp, char *dst, size_t dstsz, int flags)
{
	const unsigned char *s = (const unsigned char *)*sp;
	size_t		 len = 0, label = 0, n;
	int		 utf8label = 0;
	unsigned char	 c, last = 0;

	for (;;) {
		c = *s;
		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
			n = 1;
		else if (c >= 'A' && c <= 'Z') {
			n = 1;
			c = c - 'A' + 'a';
		} else if (c == '-' && label > 0)
			n = 1;
		else if (c >= 0x80 && (flags & ADDR_ALLOW_UTF8) &&
		    (n = utf8_seqlen(s)) != 0)
			utf8label = 1;
		else if (c == '.' && label > 0 && last != '-') {
			label = 0;
			utf8label = 0;
			n = 1;
		} else
			break;
		if (len + n > ADDR_DOMAIN_MAX || len + n >= dstsz)
			return -1;
		if (n == 1)
			dst[len] = c;
		else
			memcpy(dst + len, s, n);
		if (c != '.') {
			label += n;
			if (label > ADDR_LABEL_MAX && !utf8label)
				return -1;
		}
		last = c;
		len += n;
		s += n;
	}
	/* No empty domain, no trailing dot or hyphen. */
	if (label == 0 || last == '-')
		return -1;
	dst[len] = '\0';
	*sp = (const char *)s;
	return 0;
}

/*
 * address-literal = "[" ( IPv4-address-literal / IPv6-address-literal )
 * "]".  No General-address-literal tag but IPv6 is standardised, so
 * others are refused.  Stored as "[1.2.3.4]" or "[IPv6:...]" with the
 * tag spelt canonically and hex digits lowercased.
 */
static int
parse_literal(const char **sp, char *dst, size_t dstsz)
{
	const char	*s = *sp, *end;
	char		 lit[64];
	unsigned char	 addr6[16];
	struct in_addr	 addr4;
	size_t		 len, i;
	int		 rv;

	if (*s != '[' || (end = strchr(s, ']')) == NULL)
		return -1;
	len = end - (s + 1);
	if (len == 0 || len >= sizeof(lit))
		return -1;
	memcpy(lit, s + 1, len);
	lit[len] = '\0';
	for (i = 0; i < len; i++)
		if (lit[i] >= 'A' && lit[i] <= 'Z')
			lit[i] = lit[i] - 'A' + 'a';

	if (strncmp(lit, "ipv6:", 5) == 0) {
		if (inet_pton(AF_INET6, lit + 5, addr6) != 1)
			return -1;
		rv = snprintf(dst, dstsz, "[IPv6:%s]", lit + 5);
	} else {
		/* inet_pton takes only the dotted quad, as 4.1.3 does. */
		if (inet_pton(AF_INET, lit, &addr4) != 1)
			return -1;
		rv = snprintf(dst, dstsz, "[%s]", lit);
	}
	if (rv < 0 || (size_t)rv >= dstsz)
		return -1;
	*sp = end + 1;
	return 0;
}

/* A-d-l = At-domain *( "," At-domain ) ":"; checked, then forgotten. */
static int
parse_route(const char **sp, int flags)
{
	const char	*s = *sp;
	char		 dom[ADDR_DOMAIN_MAX + 1];

	if (*s != '@')
		return 0;
	for (;;) {
		if (*s++ != '@')
			return -1;
		if (parse_domain(&s, dom, sizeof(dom), flags) == -1)
			return -1;
		if (*s == ':')
			break;
		if (*s++ != ',')
			return -1;
	}
	*sp = s + 1;
	return 0;
}

/* Mailbox = Local-part "@" ( Domain / address-literal ) */
static int
parse_mailbox(const char **sp, struct mailaddr *a, int flags)
{
	const char	*s = *sp, *start = *sp;
	int		 rv;

	if (*s == '"')
		rv = parse_quoted_string(&s, a, flags);
	else
		rv = parse_dot_string(&s, a, flags);
	if (rv == -1 || *s++ != '@')
		return -1;
	if (*s == '[')
		rv = parse_literal(&s, a->domain, sizeof(a->domain));
	else
		rv = parse_domain(&s, a->domain, sizeof(a->domain), flags);
	if (rv == -1 || (size_t)(s - start) > ADDR_MAILBOX_MAX)
		return -1;
	*sp = s;
	return 0;
}

int
addr_parse_path(const char *s, struct mailaddr *a, int flags,
    const char **rest)
{
	const char	*p = s;
	int		 bracket = 0;

	memset(a, 0, sizeof(*a));
	/* Tolerate "MAIL FROM: <x>" as most servers do. */
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '<') {
		bracket = 1;
		p++;
	} else if (!(flags & ADDR_ALLOW_NOBRACKET))
		goto bad;

	if (bracket && *p == '>') {
		if (!(flags & ADDR_ALLOW_NULL))
			goto bad;
		p++;
	} else {
		if (bracket && parse_route(&p, flags) == -1)
			goto bad;
		if (parse_mailbox(&p, a, flags) == -1)
			goto bad;
		if (bracket && *p++ != '>')
			goto bad;
	}
	/* The path ends at a space (parameters follow) or the end. */
	if (*p != '\0' && *p != ' ')
		goto bad;
	while (*p == ' ')
		p++;
	if (rest != NULL)
		*rest = p;
	return 0;
 bad:
	memset(a, 0, sizeof(*a));
	return -1;
}

int
addr_parse(const char *s, struct mailaddr *a, int flags)
{
	memset(a, 0, sizeof(*a));
	if (*s == '\0')
		return (flags & ADDR_ALLOW_NULL) ? 0 : -1;
	if (parse_mailbox(&s, a, flags) == -1 || *s != '\0') {
		memset(a, 0, sizeof(*a));
		return -1;
	}
	return 0;
}

/* Whether the local part can be written without quotes. */
static int
local_is_dot_string(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	int		 atom = 0;

	for (; *p != '\0'; p++) {
		if (*p == '.') {
			if (atom == 0)
				return 0;
			atom = 0;
		} else if (is_atext(*p) || *p >= 0x80)
			atom++;
		else
			return 0;
	}
	return atom > 0;
}

void
addr_format(const struct mailaddr *a, char *buf, size_t bufsz)
{
	size_t	 len = 0;
	const char *p;

	if (bufsz == 0)
		return;
	buf[0] = '\0';
	if (addr_is_null(a))
		return;
	if (local_is_dot_string(a->local)) {
		snprintf(buf, bufsz, "%s@%s", a->local, a->domain);
		return;
	}
	/* Quoted: escape the two characters qtextSMTP leaves out. */
#define PUT(c)	do { if (len + 1 < bufsz) buf[len++] = (c); } while (0)
	PUT('"');
	for (p = a->local; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			PUT('\\');
		PUT(*p);
	}
	PUT('"');
	PUT('@');
#undef PUT
	buf[len] = '\0';
	snprintf(buf + len, bufsz - len, "%s", a->domain);
}

int
addr_is_null(const struct mailaddr *a)
{
	return a->local[0] == '\0' && a->domain[0] == '\0';
}

void
addr_lower(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = *s - 'A' + 'a';
}
