/*
 * SPF check_host() (RFC 7208) as a state machine over dnsq.h answers.
 *
 * A check is a stack of frames, one per record being evaluated: the
 * identity's domain at the bottom, one more per include (a redirect
 * replaces its frame's record).  Each record is parsed whole before any
 * term is looked at, because a syntax error anywhere is a permerror.
 * Terms are evaluated in order; a term that needs DNS records what it
 * waits for and returns to spf_step(), which hands the question out.
 * The counts of the RFC's limits (DNS terms, void lookups, MX and PTR
 * names) live in the check, not the frame, since they cover the whole
 * evaluation.
 */

#include <sys/socket.h>

#include <arpa/inet.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "spf.h"

#define FRAMES_MAX	(SPF_LOOKUP_MAX + 1)
#define EXPAND_MAX	1024	/* a domain-spec after expansion */

/* What the last question was for. */
#define W_NONE		0
#define W_RECORD	1	/* the frame's SPF record */
#define W_A		2	/* the a mechanism's addresses */
#define W_MX		3	/* the mx mechanism's names */
#define W_MXADDR	4	/* one MX name's addresses */
#define W_PTR		5	/* the client's PTR names */
#define W_PTRADDR	6	/* one PTR name's addresses */
#define W_EXISTS	7
#define W_EXP		8	/* the explanation text */

struct spf_frame {
	char			 domain[DNSQ_NAME_MAX];
	int			 have_record;
	int			 redirected;	/* by redirect= */
	size_t			 term;		/* next to evaluate */
	struct spf_record	 rec;
};

struct spf {
	int			 identity;
	int			 af;
	struct in_addr		 ip4;
	struct in6_addr		 ip6;
	char			 helo[DNSQ_NAME_MAX];
	char			 sender[DNSQ_NAME_MAX * 2];
	char			 local[DNSQ_NAME_MAX];
	char			 domain[DNSQ_NAME_MAX];	/* o */
	char			 receiver[DNSQ_NAME_MAX];
	time_t			 now;

	int			 done;
	int			 result;
	int			 waiting;	/* W_* */
	struct dnsq_query	 q;
	int			 lookups;
	int			 voids;

	/* The term in progress: its expanded target, MX/PTR names. */
	char			 target[DNSQ_NAME_MAX];
	char			 names[SPF_NAMES_MAX][DNSQ_NAME_MAX];
	size_t			 nnames;
	size_t			 iname;
	int			 ptr_resume;	/* W_* to go on with */

	/* PTR validation, done at most once per check. */
	int			 ptr_done;
	char			 valid[SPF_NAMES_MAX][DNSQ_NAME_MAX];
	size_t			 nvalid;

	size_t			 nframes;
	struct spf_frame	 frames[FRAMES_MAX];
	char			 exptext[SPF_EXPLAIN_MAX];
	char			 explanation[SPF_EXPLAIN_MAX];
	char			 reason[SPF_REASON_MAX];
};

static const char *result_names[] = {
	"none", "neutral", "pass", "fail", "softfail", "temperror",
	"permerror",
};

static void	frame_next(struct spf *);
static void	explain_text(struct spf *);

/* The record parser. */

static int
is_alnum(int c)
{
	return isascii(c) && isalnum(c);
}

int
spf_record_is(const char *p, size_t len)
{
	return len >= 6 && strncasecmp(p, "v=spf1", 6) == 0 &&
	    (len == 6 || p[6] == ' ');
}

/* A prefix length: "/" ("0" / %x31-39 0*2DIGIT) at most max. */
static int
parse_cidr(const char *p, size_t len, int max)
{
	int	 n = 0;
	size_t	 i;

	if (len == 0 || len > 3 || (p[0] == '0' && len > 1))
		return -1;
	for (i = 0; i < len; i++) {
		if (!isdigit((unsigned char)p[i]))
			return -1;
		n = n * 10 + (p[i] - '0');
	}
	return n > max ? -1 : n;
}

/*
 * A toplabel (RFC 7208 7.1): alphanumerics with at least one letter, or
 * with inner hyphens.
 */
static int
toplabel_ok(const char *p, size_t len)
{
	size_t	 i;
	int	 alpha = 0, hyphen = 0;

	if (len == 0 || !is_alnum(p[0]) || !is_alnum(p[len - 1]))
		return 0;
	for (i = 0; i < len; i++) {
		if (p[i] == '-')
			hyphen = 1;
		else if (isalpha((unsigned char)p[i]))
			alpha = 1;
		else if (!isdigit((unsigned char)p[i]))
			return 0;
	}
	return alpha || hyphen;
}

/*
 * A macro-string: literals and %-escapes.  *ends_macro says whether the
 * last token was a macro-expand, for the domain-end rule.
 */
static int
macro_syntax(const char *p, size_t len, int explain, int *ends_macro)
{
	size_t	 i = 0;

	*ends_macro = 0;
	while (i < len) {
		if (p[i] != '%') {
			if ((p[i] < 0x21 || p[i] > 0x7e) &&
			    !(explain && p[i] == ' '))
				return -1;
			*ends_macro = 0;
			i++;
			continue;
		}
		if (++i == len)
			return -1;
		if (p[i] == '%' || p[i] == '_' || p[i] == '-') {
			i++;
			*ends_macro = 1;
			continue;
		}
		if (p[i] != '{' || ++i == len)
			return -1;
		if (strchr("slodiphcrtv", tolower((unsigned char)p[i])) ==
		    NULL)
			return -1;
		if (!explain && strchr("crt", tolower((unsigned char)p[i])))
			return -1;
		i++;
		if (i < len && p[i] == '0')
			return -1;
		while (i < len && isdigit((unsigned char)p[i]))
			i++;
		if (i < len && (p[i] == 'r' || p[i] == 'R'))
			i++;
		while (i < len && strchr(".-+,/_=", p[i]) != NULL)
			i++;
		if (i == len || p[i] != '}')
			return -1;
		i++;
		*ends_macro = 1;
	}
	return 0;
}

/* domain-spec = macro-string domain-end */
static int
domain_spec_ok(const char *p, size_t len)
{
	size_t	 end, dot;
	int	 ends_macro;

	if (len == 0 || macro_syntax(p, len, 0, &ends_macro) == -1)
		return 0;
	if (ends_macro)
		return 1;
	end = len;
	if (p[end - 1] == '.')
		end--;
	for (dot = end; dot > 0 && p[dot - 1] != '.'; dot--)
		;
	if (dot == 0)
		return 0;
	return toplabel_ok(p + dot, end - dot);
}

/* Splits a trailing dual-cidr-length off p[0..*len]. */
static int
split_cidr(struct spf_term *t, const char *p, size_t *len)
{
	size_t	 i, n = *len;
	int	 v;

	t->cidr4 = 32;
	t->cidr6 = 128;
	/* "//nn" at the very end: the IPv6 length. */
	for (i = n; i > 0 && isdigit((unsigned char)p[i - 1]); i--)
		;
	if (i == n || i == 0 || p[i - 1] != '/')
		return 0;
	if (i >= 2 && p[i - 2] == '/') {
		if ((v = parse_cidr(p + i, n - i, 128)) == -1)
			return -1;
		t->cidr6 = v;
		n = i - 2;
		for (i = n; i > 0 && isdigit((unsigned char)p[i - 1]); i--)
			;
		if (i == n || i == 0 || p[i - 1] != '/') {
			*len = n;
			return 0;
		}
	}
	if ((v = parse_cidr(p + i, n - i, 32)) == -1)
		return -1;
	t->cidr4 = v;
	*len = i - 1;
	return 0;
}

static int
parse_ip(struct spf_term *t, const char *p, size_t len, int v6)
{
	char	 buf[INET6_ADDRSTRLEN + 8];
	size_t	 slash;
	int	 v;

	for (slash = 0; slash < len && p[slash] != '/'; slash++)
		;
	if (slash == 0 || slash >= sizeof(buf))
		return -1;
	memcpy(buf, p, slash);
	buf[slash] = '\0';
	if (v6) {
		t->cidr6 = 128;
		if (inet_pton(AF_INET6, buf, &t->ip6) != 1)
			return -1;
	} else {
		t->cidr4 = 32;
		if (inet_pton(AF_INET, buf, &t->ip4) != 1)
			return -1;
	}
	if (slash == len)
		return 0;
	v = parse_cidr(p + slash + 1, len - slash - 1, v6 ? 128 : 32);
	if (v == -1)
		return -1;
	if (v6)
		t->cidr6 = v;
	else
		t->cidr4 = v;
	return 0;
}

static const struct {
	const char	*name;
	int		 mech;
	int		 arg;		/* 0 none, 1 optional, 2 required */
	int		 cidr;
} mechs[] = {
	{ "all",	SPF_M_ALL,	0, 0 },
	{ "include",	SPF_M_INCLUDE,	2, 0 },
	{ "a",		SPF_M_A,	1, 1 },
	{ "mx",		SPF_M_MX,	1, 1 },
	{ "ptr",	SPF_M_PTR,	1, 0 },
	{ "ip4",	SPF_M_IP4,	2, 0 },
	{ "ip6",	SPF_M_IP6,	2, 0 },
	{ "exists",	SPF_M_EXISTS,	2, 0 },
};

static int
parse_mechanism(struct spf_record *r, size_t off, size_t len, char *err,
    size_t errsz)
{
	const char	*p = r->text + off;
	struct spf_term	*t;
	size_t		 i, nlen, alen;
	const char	*arg;

	if (r->nterms == SPF_TERMS_MAX) {
		snprintf(err, errsz, "too many terms");
		return -1;
	}
	t = &r->terms[r->nterms];
	memset(t, 0, sizeof(*t));
	t->result = SPF_PASS;
	switch (*p) {
	case '+':
		p++, off++, len--;
		break;
	case '-':
		t->result = SPF_FAIL;
		p++, off++, len--;
		break;
	case '~':
		t->result = SPF_SOFTFAIL;
		p++, off++, len--;
		break;
	case '?':
		t->result = SPF_NEUTRAL;
		p++, off++, len--;
		break;
	}
	for (nlen = 0; nlen < len && p[nlen] != ':' && p[nlen] != '/'; nlen++)
		;
	for (i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++)
		if (strlen(mechs[i].name) == nlen &&
		    strncasecmp(p, mechs[i].name, nlen) == 0)
			break;
	if (i == sizeof(mechs) / sizeof(mechs[0])) {
		snprintf(err, errsz, "unknown mechanism \"%.*s\"",
		    (int)(len > 40 ? 40 : len), p);
		return -1;
	}
	t->mech = mechs[i].mech;
	arg = p + nlen;
	alen = len - nlen;
	if (t->mech == SPF_M_IP4 || t->mech == SPF_M_IP6) {
		if (alen < 2 || arg[0] != ':' ||
		    parse_ip(t, arg + 1, alen - 1, t->mech == SPF_M_IP6) ==
		    -1)
			goto bad;
		r->nterms++;
		return 0;
	}
	if (mechs[i].cidr) {
		if (split_cidr(t, arg, &alen) == -1)
			goto bad;
	} else {
		t->cidr4 = 32;
		t->cidr6 = 128;
	}
	if (alen > 0) {
		if (arg[0] != ':' || mechs[i].arg == 0 ||
		    !domain_spec_ok(arg + 1, alen - 1))
			goto bad;
		t->spec = off + nlen + 1;
		t->speclen = alen - 1;
	} else if (mechs[i].arg == 2)
		goto bad;
	r->nterms++;
	return 0;
 bad:
	snprintf(err, errsz, "bad %s mechanism \"%.*s\"", mechs[i].name,
	    (int)(len > 60 ? 60 : len), p);
	return -1;
}

static int
parse_modifier(struct spf_record *r, size_t off, size_t len, size_t nlen,
    char *err, size_t errsz)
{
	const char	*p = r->text + off;
	const char	*val = p + nlen + 1;
	size_t		 vlen = len - nlen - 1;
	int		 ends_macro;

	if (nlen == 8 && strncasecmp(p, "redirect", 8) == 0) {
		if (r->redirectlen > 0 || !domain_spec_ok(val, vlen))
			goto bad;
		r->redirect = off + nlen + 1;
		r->redirectlen = vlen;
		return 0;
	}
	if (nlen == 3 && strncasecmp(p, "exp", 3) == 0) {
		if (r->explen > 0 || !domain_spec_ok(val, vlen))
			goto bad;
		r->exp = off + nlen + 1;
		r->explen = vlen;
		return 0;
	}
	/* Unknown modifiers are ignored, but must be well formed. */
	if (macro_syntax(val, vlen, 0, &ends_macro) == -1)
		goto bad;
	return 0;
 bad:
	snprintf(err, errsz, "bad modifier \"%.*s\"",
	    (int)(len > 60 ? 60 : len), p);
	return -1;
}

/* name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ), then "=". */
static size_t
modifier_name(const char *p, size_t len)
{
	size_t	 i;

	if (len == 0 || !isalpha((unsigned char)p[0]))
		return 0;
	for (i = 1; i < len; i++)
		if (!is_alnum(p[i]) && p[i] != '-' && p[i] != '_' &&
		    p[i] != '.')
			break;
	return i < len && p[i] == '=' ? i : 0;
}

int
spf_record_parse(struct spf_record *r, const char *text, size_t len,
    char *err, size_t errsz)
{
	size_t	 off, end, nlen;

	memset(r, 0, offsetof(struct spf_record, terms));
	r->redirect = r->redirectlen = r->exp = r->explen = 0;
	if (len >= sizeof(r->text)) {
		snprintf(err, errsz, "record too long");
		return -1;
	}
	if (!spf_record_is(text, len)) {
		snprintf(err, errsz, "not an SPF record");
		return -1;
	}
	memcpy(r->text, text, len);
	r->text[len] = '\0';
	if (memchr(text, '\0', len) != NULL) {
		snprintf(err, errsz, "NUL in record");
		return -1;
	}
	for (off = 6; off < len; off = end) {
		while (off < len && r->text[off] == ' ')
			off++;
		if (off == len)
			break;
		for (end = off; end < len && r->text[end] != ' '; end++)
			;
		nlen = modifier_name(r->text + off, end - off);
		if (nlen > 0) {
			if (parse_modifier(r, off, end - off, nlen, err,
			    errsz) == -1)
				return -1;
		} else if (parse_mechanism(r, off, end - off, err, errsz) ==
		    -1)
			return -1;
	}
	return 0;
}

/* Macro expansion (RFC 7208 7). */

static void
reverse_name(const struct spf *s, char *out, size_t outsz, int dotted_ip)
{
	const unsigned char	*b;
	size_t			 o = 0;
	int			 i;

	if (s->af == AF_INET) {
		b = (const unsigned char *)&s->ip4;
		if (dotted_ip)
			snprintf(out, outsz, "%u.%u.%u.%u", b[0], b[1], b[2],
			    b[3]);
		else
			snprintf(out, outsz, "%u.%u.%u.%u.in-addr.arpa", b[3],
			    b[2], b[1], b[0]);
		return;
	}
	b = s->ip6.s6_addr;
	if (dotted_ip) {
		for (i = 0; i < 16 && o + 5 < outsz; i++)
			o += snprintf(out + o, outsz - o, "%s%x.%x",
			    i ? "." : "", b[i] >> 4, b[i] & 15);
		return;
	}
	for (i = 15; i >= 0 && o + 5 < outsz; i--)
		o += snprintf(out + o, outsz - o, "%x.%x.", b[i] & 15,
		    b[i] >> 4);
	snprintf(out + o, outsz - o, "ip6.arpa");
}

/* The validated name for %{p} (RFC 7208 5.5 and 7.3). */
static const char *
validated_name(const struct spf *s, const char *domain)
{
	size_t	 i, dl = strlen(domain), nl;

	for (i = 0; i < s->nvalid; i++)
		if (strcasecmp(s->valid[i], domain) == 0)
			return s->valid[i];
	for (i = 0; i < s->nvalid; i++) {
		nl = strlen(s->valid[i]);
		if (nl > dl && s->valid[i][nl - dl - 1] == '.' &&
		    strcasecmp(s->valid[i] + nl - dl, domain) == 0)
			return s->valid[i];
	}
	return s->nvalid > 0 ? s->valid[0] : "unknown";
}

/* A letter's value; 1 if it needs the PTR validation first. */
static int
macro_value(struct spf *s, int letter, char *out, size_t outsz)
{
	const char	*d = s->nframes > 0 ?
			    s->frames[s->nframes - 1].domain : s->domain;

	switch (letter) {
	case 's':
		snprintf(out, outsz, "%s", s->sender);
		break;
	case 'l':
		snprintf(out, outsz, "%s", s->local);
		break;
	case 'o':
		snprintf(out, outsz, "%s", s->domain);
		break;
	case 'd':
		snprintf(out, outsz, "%s", d);
		break;
	case 'i':
		reverse_name(s, out, outsz, 1);
		break;
	case 'p':
		if (!s->ptr_done)
			return 1;
		snprintf(out, outsz, "%s", validated_name(s, d));
		break;
	case 'v':
		snprintf(out, outsz, "%s", s->af == AF_INET ? "in-addr" :
		    "ip6");
		break;
	case 'h':
		snprintf(out, outsz, "%s", s->helo);
		break;
	case 'c':
		if (s->af == AF_INET)
			inet_ntop(AF_INET, &s->ip4, out, outsz);
		else
			inet_ntop(AF_INET6, &s->ip6, out, outsz);
		break;
	case 'r':
		snprintf(out, outsz, "%s", s->receiver[0] ? s->receiver :
		    "unknown");
		break;
	case 't':
		snprintf(out, outsz, "%lld", (long long)s->now);
		break;
	default:
		out[0] = '\0';
	}
	return 0;
}

/*
 * Split value on delims, keep the rightmost keep parts (after the
 * reversal), join with dots; URL-escape when the letter was uppercase.
 */
static int
macro_transform(const char *value, const char *delims, int keep,
    int reverse, int escape, char *out, size_t outsz, size_t *olen)
{
	const char	*part[128];
	size_t		 plen[128];
	size_t		 n = 0, i, j, first, o = *olen;
	const char	*p = value, *q;

	for (;;) {
		if (n == 128)
			return -1;
		for (q = p; *q != '\0' && strchr(delims, *q) == NULL; q++)
			;
		part[n] = p;
		plen[n++] = q - p;
		if (*q == '\0')
			break;
		p = q + 1;
	}
	if (reverse)
		for (i = 0; i < n / 2; i++) {
			const char	*tp = part[i];
			size_t		 tl = plen[i];

			part[i] = part[n - 1 - i];
			plen[i] = plen[n - 1 - i];
			part[n - 1 - i] = tp;
			plen[n - 1 - i] = tl;
		}
	first = keep > 0 && (size_t)keep < n ? n - keep : 0;
	for (i = first; i < n; i++) {
		if (i > first) {
			if (o + 1 >= outsz)
				return -1;
			out[o++] = '.';
		}
		for (j = 0; j < plen[i]; j++) {
			unsigned char	 c = part[i][j];

			if (escape && !is_alnum(c) && strchr("-._~", c) ==
			    NULL) {
				if (o + 3 >= outsz)
					return -1;
				o += snprintf(out + o, outsz - o, "%%%02X", c);
				continue;
			}
			if (o + 1 >= outsz)
				return -1;
			out[o++] = c;
		}
	}
	*olen = o;
	return 0;
}

int
spf_macro_expand(struct spf *s, const char *p, size_t len, int explain,
    char *out, size_t outsz)
{
	char	 value[EXPAND_MAX], delims[8];
	size_t	 i = 0, o = 0, nd;
	int	 letter, keep, reverse, escape, ends_macro;

	if (outsz == 0 || macro_syntax(p, len, explain, &ends_macro) == -1)
		return -1;
	while (i < len) {
		if (p[i] != '%') {
			if (o + 1 >= outsz)
				return -1;
			out[o++] = p[i++];
			continue;
		}
		i++;
		if (p[i] != '{') {
			if (o + 3 >= outsz)
				return -1;
			if (p[i] == '%')
				out[o++] = '%';
			else if (p[i] == '_')
				out[o++] = ' ';
			else {
				memcpy(out + o, "%20", 3);
				o += 3;
			}
			i++;
			continue;
		}
		i++;
		letter = tolower((unsigned char)p[i]);
		escape = isupper((unsigned char)p[i]);
		i++;
		for (keep = 0; isdigit((unsigned char)p[i]); i++)
			if (keep < 1000)
				keep = keep * 10 + (p[i] - '0');
		reverse = 0;
		if (p[i] == 'r' || p[i] == 'R') {
			reverse = 1;
			i++;
		}
		for (nd = 0; p[i] != '}'; i++)
			if (nd < sizeof(delims) - 1)
				delims[nd++] = p[i];
		if (nd == 0)
			delims[nd++] = '.';
		delims[nd] = '\0';
		i++;
		if (macro_value(s, letter, value, sizeof(value)) == 1)
			return 1;
		if (macro_transform(value, delims, keep, reverse, escape, out,
		    outsz, &o) == -1)
			return -1;
	}
	out[o] = '\0';
	return 0;
}

/* The check. */

struct spf *
spf_new(void)
{
	return calloc(1, sizeof(struct spf));
}

void
spf_free(struct spf *s)
{
	free(s);
}

static void
lowercase(char *p)
{
	for (; *p != '\0'; p++)
		*p = tolower((unsigned char)*p);
}

/*
 * A name a query can be made for: labels of 1 to 63 bytes, 253 in all
 * (any byte may be in a label; DNS allows it).  With multi, also more
 * than one label, which RFC 7208 4.3 asks of the identity's domain.
 */
static int
name_valid(const char *d, int multi)
{
	size_t	 len = strlen(d), label = 0, labels = 1, i;

	if (len == 0 || len > 253 || d[0] == '.')
		return 0;
	for (i = 0; i < len; i++) {
		if (d[i] == '.') {
			if (label == 0)
				return 0;
			label = 0;
			if (i + 1 < len)
				labels++;
			continue;
		}
		if (++label > 63)
			return 0;
	}
	return !multi || labels >= 2;
}

static int
domain_valid(const char *d)
{
	return name_valid(d, 1);
}

/*
 * A trailing dot goes; a name longer than 253 bytes loses labels from
 * the left until it fits (RFC 7208 7.3).  The name that is left.
 */
static char *
truncate_name(char *buf)
{
	char	*p = buf;

	if (buf[0] != '\0' && buf[strlen(buf) - 1] == '.')
		buf[strlen(buf) - 1] = '\0';
	while (strlen(p) > 253 && strchr(p, '.') != NULL)
		p = strchr(p, '.') + 1;
	return p;
}

int
spf_start(struct spf *s, int identity, const char *ip, const char *helo,
    const char *mailfrom)
{
	const char	*at;
	struct in6_addr	 in6;

	memset(s, 0, sizeof(*s));
	s->identity = identity;
	if (inet_pton(AF_INET, ip, &s->ip4) == 1)
		s->af = AF_INET;
	else if (inet_pton(AF_INET6, ip, &in6) == 1) {
		if (IN6_IS_ADDR_V4MAPPED(&in6)) {
			s->af = AF_INET;
			memcpy(&s->ip4, &in6.s6_addr[12], 4);
		} else {
			s->af = AF_INET6;
			s->ip6 = in6;
		}
	} else
		return -1;
	snprintf(s->helo, sizeof(s->helo), "%s", helo);
	if (identity == SPF_HELO || mailfrom[0] == '\0')
		snprintf(s->sender, sizeof(s->sender), "postmaster@%s", helo);
	else if (strchr(mailfrom, '@') == NULL)
		snprintf(s->sender, sizeof(s->sender), "postmaster@%s",
		    mailfrom);
	else if (mailfrom[0] == '@')
		snprintf(s->sender, sizeof(s->sender), "postmaster%s",
		    mailfrom);
	else
		snprintf(s->sender, sizeof(s->sender), "%s", mailfrom);
	at = strrchr(s->sender, '@');
	snprintf(s->local, sizeof(s->local), "%.*s", (int)(at - s->sender),
	    s->sender);
	dnsq_query_set(&s->q, at + 1, DNSQ_TXT);
	snprintf(s->domain, sizeof(s->domain), "%s", s->q.name);
	lowercase(s->domain);
	s->now = time(NULL);
	if (!domain_valid(s->domain)) {
		s->done = 1;
		s->result = SPF_NONE;
		snprintf(s->reason, sizeof(s->reason), "no valid domain");
		return 0;
	}
	s->nframes = 1;
	snprintf(s->frames[0].domain, sizeof(s->frames[0].domain), "%s",
	    s->domain);
	return 0;
}

void
spf_set_receiver(struct spf *s, const char *r)
{
	snprintf(s->receiver, sizeof(s->receiver), "%s", r);
}

void
spf_set_time(struct spf *s, time_t t)
{
	s->now = t;
}

static void
finish(struct spf *s, int result, const char *fmt, const char *arg)
{
	s->done = 1;
	s->result = result;
	s->waiting = W_NONE;
	if (fmt != NULL)
		snprintf(s->reason, sizeof(s->reason), fmt, arg);
}

static void
ask(struct spf *s, int waiting, const char *name, int type)
{
	s->waiting = waiting;
	dnsq_query_set(&s->q, name, type);
}

static struct spf_frame *
top(struct spf *s)
{
	return &s->frames[s->nframes - 1];
}

/* One more DNS term (include, a, mx, ptr, exists, redirect). */
static int
count_lookup(struct spf *s)
{
	if (++s->lookups > SPF_LOOKUP_MAX) {
		finish(s, SPF_PERMERROR, "more than %s DNS lookups", "10");
		return -1;
	}
	return 0;
}

/* An answer with no records or NXDOMAIN; permerror past the limit. */
static int
count_void(struct spf *s, const struct dnsq_answer *a, int type)
{
	size_t	 i;

	if (a->rcode == DNSQ_SERVFAIL)
		return 0;
	if (a->rcode == DNSQ_NOERROR)
		for (i = 0; i < a->nrr; i++)
			if (a->rr[i].type == type)
				return 0;
	if (++s->voids > SPF_VOID_MAX) {
		finish(s, SPF_PERMERROR, "more than %s void lookups", "2");
		return -1;
	}
	return 0;
}

/*
 * The term's domain-spec expanded into s->target (or the current
 * domain): 0, -1 (finished with permerror), 1 (waiting for the PTR
 * validation that %{p} needs; the term is evaluated again after it),
 * 2 (no name a query could be made for: as if it did not exist).
 */
static int
expand_target(struct spf *s, size_t spec, size_t speclen)
{
	struct spf_frame	*f = top(s);
	char			 buf[EXPAND_MAX];
	const char		*p;
	int			 r;

	if (speclen == 0) {
		snprintf(s->target, sizeof(s->target), "%s", f->domain);
		return 0;
	}
	r = spf_macro_expand(s, f->rec.text + spec, speclen, 0, buf,
	    sizeof(buf));
	if (r == -1) {
		finish(s, SPF_PERMERROR, "bad macro in \"%s\"", f->domain);
		return -1;
	}
	if (r == 1)
		return 1;
	p = truncate_name(buf);
	if (!name_valid(p, 0))
		return 2;
	/* name_valid() held it to 253 bytes. */
	memcpy(s->target, p, strlen(p) + 1);
	lowercase(s->target);
	return 0;
}

static void
start_ptr(struct spf *s, int resume)
{
	char	 name[DNSQ_NAME_MAX];

	s->ptr_resume = resume;
	reverse_name(s, name, sizeof(name), 0);
	ask(s, W_PTR, name, DNSQ_PTR);
}

static int
addr_type(const struct spf *s)
{
	return s->af == AF_INET ? DNSQ_A : DNSQ_AAAA;
}

static int
bits_match(const void *a, const void *b, int bits)
{
	const unsigned char	*x = a, *y = b;
	int			 bytes = bits / 8, rest = bits % 8;

	if (memcmp(x, y, bytes) != 0)
		return 0;
	if (rest == 0)
		return 1;
	return ((x[bytes] ^ y[bytes]) & (0xff << (8 - rest))) == 0;
}

/* 1 if an address record of the answer is in the client's network. */
static int
answer_matches(const struct spf *s, const struct dnsq_answer *a,
    int cidr4, int cidr6)
{
	size_t	 i;

	if (a->rcode != DNSQ_NOERROR)
		return 0;
	for (i = 0; i < a->nrr; i++) {
		if (s->af == AF_INET && a->rr[i].type == DNSQ_A &&
		    bits_match(&a->rr[i].a, &s->ip4, cidr4))
			return 1;
		if (s->af == AF_INET6 && a->rr[i].type == DNSQ_AAAA &&
		    bits_match(&a->rr[i].aaaa, &s->ip6, cidr6))
			return 1;
	}
	return 0;
}

static struct spf_term *
cur_term(struct spf *s)
{
	struct spf_frame	*f = top(s);

	return &f->rec.terms[f->term];
}

/* The current term matched (or not): pop the frame or go on. */
static void
term_done(struct spf *s, int matched);

static void
frame_result(struct spf *s, int result, const char *why);

static void
term_done(struct spf *s, int matched)
{
	struct spf_frame	*f = top(s);
	struct spf_term		*t = cur_term(s);
	static const char	*mnames[] = { "", "all", "include", "a", "mx",
				    "ptr", "ip4", "ip6", "exists" };

	s->waiting = W_NONE;
	if (matched) {
		frame_result(s, t->result, mnames[t->mech]);
		return;
	}
	f->term++;
}

/*
 * A record's result.  An included record's pass is a match of the
 * include; its fail, softfail or neutral is not; its errors and "none"
 * end the check (RFC 7208 5.2).
 */
/*
 * The exp= target of a fail, asked for; an explanation that cannot be
 * had is just left out (RFC 7208 6.2), the result stays.
 */
static void
explain(struct spf *s, struct spf_frame *f)
{
	char	 buf[EXPAND_MAX], *p;

	if (spf_macro_expand(s, f->rec.text + f->rec.exp, f->rec.explen, 0,
	    buf, sizeof(buf)) != 0)
		return;
	p = truncate_name(buf);
	if (!name_valid(p, 0))
		return;
	s->done = 0;
	ask(s, W_EXP, p, DNSQ_TXT);
}

static void
frame_result(struct spf *s, int result, const char *why)
{
	struct spf_frame	*f;

	if (s->nframes == 1) {
		f = top(s);
		snprintf(s->reason, sizeof(s->reason),
		    "%s%s matched in \"%.200s\"", why[0] ? "mechanism " : "",
		    why[0] ? why : "default", f->domain);
		s->result = result;
		s->done = 1;
		s->waiting = W_NONE;
		if (result == SPF_FAIL && f->rec.explen > 0)
			explain(s, f);
		return;
	}
	s->nframes--;
	switch (result) {
	case SPF_PASS:
		term_done(s, 1);
		break;
	case SPF_FAIL:
	case SPF_SOFTFAIL:
	case SPF_NEUTRAL:
		term_done(s, 0);
		break;
	case SPF_TEMPERROR:
		finish(s, SPF_TEMPERROR, "%s", "DNS error in an include");
		break;
	default:
		finish(s, SPF_PERMERROR, "include of \"%s\" has no record",
		    s->frames[s->nframes].domain);
	}
}

/* The record for the top frame has come. */
static void
got_record(struct spf *s, const struct dnsq_answer *a)
{
	struct spf_frame	*f = top(s);
	const struct dnsq_rr	*rr, *found = NULL;
	char			 err[128];
	size_t			 i, n = 0;
	int			 none;

	if (a->rcode == DNSQ_SERVFAIL) {
		finish(s, SPF_TEMPERROR, "DNS error for \"%s\"", f->domain);
		return;
	}
	if (a->rcode == DNSQ_NOERROR)
		for (i = 0; i < a->nrr; i++) {
			rr = &a->rr[i];
			if (rr->type == DNSQ_TXT && spf_record_is(
			    dnsq_rr_text(a, rr), rr->len)) {
				found = rr;
				n++;
			}
		}
	if (n > 1) {
		finish(s, SPF_PERMERROR, "more than one record for \"%s\"",
		    f->domain);
		return;
	}
	if (n == 0) {
		none = s->nframes == 1 && !f->redirected;
		if (none)
			finish(s, SPF_NONE, "no record for \"%s\"", f->domain);
		else
			finish(s, SPF_PERMERROR, "no record for \"%s\"",
			    f->domain);
		return;
	}
	if (spf_record_parse(&f->rec, dnsq_rr_text(a, found), found->len,
	    err, sizeof(err)) == -1) {
		snprintf(s->reason, sizeof(s->reason), "\"%.120s\": %s",
		    f->domain, err);
		s->done = 1;
		s->result = SPF_PERMERROR;
		return;
	}
	f->have_record = 1;
	f->term = 0;
	s->waiting = W_NONE;
}

/* Goes on with the names of an mx or ptr mechanism. */
static void
next_name(struct spf *s, int waiting)
{
	if (s->iname < s->nnames) {
		ask(s, waiting, s->names[s->iname], addr_type(s));
		return;
	}
	if (waiting == W_MXADDR) {
		term_done(s, 0);
		return;
	}
	/* PTR validation over: go on with what needed it. */
	s->ptr_done = 1;
	s->waiting = W_NONE;
	if (s->ptr_resume == W_EXP) {
		s->done = 1;
		explain_text(s);
		return;
	}
	if (s->ptr_resume == W_PTR) {
		struct spf_term	*t = cur_term(s);
		size_t		 i, nl, tl;

		switch (expand_target(s, t->spec, t->speclen)) {
		case 0:
			break;
		case 2:
			term_done(s, 0);
			return;
		default:
			return;
		}
		tl = strlen(s->target);
		for (i = 0; i < s->nvalid; i++) {
			nl = strlen(s->valid[i]);
			if (strcasecmp(s->valid[i], s->target) == 0 ||
			    (nl > tl && s->valid[i][nl - tl - 1] == '.' &&
			    strcasecmp(s->valid[i] + nl - tl, s->target) ==
			    0)) {
				term_done(s, 1);
				return;
			}
		}
		term_done(s, 0);
	}
}

static void
take_names(struct spf *s, const struct dnsq_answer *a, int type)
{
	size_t	 i;

	s->nnames = s->iname = 0;
	for (i = 0; i < a->nrr; i++) {
		if (a->rr[i].type != type || a->rr[i].len == 0)
			continue;
		if (s->nnames == SPF_NAMES_MAX) {
			/* 7208 4.6.4: too many MX is an error, PTR not. */
			if (type == DNSQ_MX) {
				finish(s, SPF_PERMERROR, "more than %s MX "
				    "names", "10");
				return;
			}
			break;
		}
		snprintf(s->names[s->nnames++], DNSQ_NAME_MAX, "%s",
		    dnsq_rr_text(a, &a->rr[i]));
	}
}

/* The explanation's TXT text expanded; %{p} may need DNS first. */
static void
explain_text(struct spf *s)
{
	int	 r;

	r = spf_macro_expand(s, s->exptext, strlen(s->exptext), 1,
	    s->explanation, sizeof(s->explanation));
	if (r == 1) {
		s->done = 0;
		start_ptr(s, W_EXP);
		return;
	}
	if (r != 0)
		s->explanation[0] = '\0';
}

static void
got_answer(struct spf *s, const struct dnsq_answer *a)
{
	struct spf_term	*t;
	int		 w = s->waiting;

	if (w == W_RECORD) {
		got_record(s, a);
		return;
	}
	if (w == W_EXP) {
		const struct dnsq_rr	*rr = NULL;
		size_t			 i, n = 0;

		if (a->rcode == DNSQ_NOERROR)
			for (i = 0; i < a->nrr; i++)
				if (a->rr[i].type == DNSQ_TXT) {
					rr = &a->rr[i];
					n++;
				}
		s->done = 1;
		s->waiting = W_NONE;
		if (n != 1 || rr->len >= sizeof(s->exptext)) {
			s->explanation[0] = '\0';
			return;
		}
		memcpy(s->exptext, dnsq_rr_text(a, rr), rr->len + 1);
		explain_text(s);
		return;
	}
	if (w == W_PTR || w == W_PTRADDR) {
		if (w == W_PTR) {
			/*
			 * No PTR (even a DNS error): nothing validated.  The
			 * ptr mechanism's lookup may be void; %{p}'s is not
			 * a term's and does not count.
			 */
			s->nvalid = 0;
			if (s->ptr_resume == W_PTR &&
			    count_void(s, a, DNSQ_PTR) == -1)
				return;
			take_names(s, a, DNSQ_PTR);
		} else {
			if (answer_matches(s, a, 32, 128) &&
			    s->nvalid < SPF_NAMES_MAX)
				memcpy(s->valid[s->nvalid++],
				    s->names[s->iname],
				    strlen(s->names[s->iname]) + 1);
			s->iname++;
		}
		next_name(s, W_PTRADDR);
		return;
	}
	if (a->rcode == DNSQ_SERVFAIL) {
		finish(s, SPF_TEMPERROR, "DNS error for \"%.200s\"",
		    s->q.name);
		return;
	}
	t = cur_term(s);
	switch (w) {
	case W_A:
		if (count_void(s, a, s->q.type) == -1)
			return;
		term_done(s, answer_matches(s, a, t->cidr4, t->cidr6));
		break;
	case W_EXISTS:
		if (count_void(s, a, DNSQ_A) == -1)
			return;
		term_done(s, a->rcode == DNSQ_NOERROR && a->nrr > 0 &&
		    a->rr[0].type == DNSQ_A);
		break;
	case W_MX:
		if (count_void(s, a, DNSQ_MX) == -1)
			return;
		take_names(s, a, DNSQ_MX);
		if (!s->done)
			next_name(s, W_MXADDR);
		break;
	case W_MXADDR:
		if (answer_matches(s, a, t->cidr4, t->cidr6)) {
			term_done(s, 1);
			break;
		}
		s->iname++;
		next_name(s, W_MXADDR);
		break;
	}
}

static void
eval_term(struct spf *s)
{
	struct spf_term	*t = cur_term(s);
	int		 r;

	switch (t->mech) {
	case SPF_M_ALL:
		term_done(s, 1);
		return;
	case SPF_M_IP4:
		term_done(s, s->af == AF_INET &&
		    bits_match(&t->ip4, &s->ip4, t->cidr4));
		return;
	case SPF_M_IP6:
		term_done(s, s->af == AF_INET6 &&
		    bits_match(&t->ip6, &s->ip6, t->cidr6));
		return;
	}
	if ((r = expand_target(s, t->spec, t->speclen)) == -1)
		return;
	if (r == 1) {
		/* %{p}: validate first, then evaluate this term anew. */
		start_ptr(s, W_NONE);
		return;
	}
	if (count_lookup(s) == -1)
		return;
	if (r == 2) {
		/* A name that cannot exist: an include finds no record. */
		if (t->mech == SPF_M_INCLUDE)
			finish(s, SPF_PERMERROR, "%s", "include of an invalid "
			    "name");
		else
			term_done(s, 0);
		return;
	}
	switch (t->mech) {
	case SPF_M_INCLUDE:
		if (s->nframes == FRAMES_MAX) {
			finish(s, SPF_PERMERROR, "%s", "includes too deep");
			return;
		}
		s->nframes++;
		memset(top(s), 0, offsetof(struct spf_frame, rec));
		snprintf(top(s)->domain, DNSQ_NAME_MAX, "%s", s->target);
		s->waiting = W_NONE;
		return;
	case SPF_M_A:
		ask(s, W_A, s->target, addr_type(s));
		return;
	case SPF_M_MX:
		ask(s, W_MX, s->target, DNSQ_MX);
		return;
	case SPF_M_PTR:
		if (s->ptr_done) {
			s->iname = s->nnames;
			s->ptr_resume = W_PTR;
			next_name(s, W_PTRADDR);
		} else
			start_ptr(s, W_PTR);
		return;
	case SPF_M_EXISTS:
		ask(s, W_EXISTS, s->target, DNSQ_A);
		return;
	}
}

/* The top frame ran out of terms: redirect, or the default neutral. */
static void
frame_end(struct spf *s)
{
	struct spf_frame	*f = top(s);
	int			 r;

	if (f->rec.redirectlen == 0) {
		frame_result(s, SPF_NEUTRAL, "");
		return;
	}
	r = expand_target(s, f->rec.redirect, f->rec.redirectlen);
	if (r == -1)
		return;
	if (r == 1) {
		start_ptr(s, W_NONE);
		return;
	}
	if (count_lookup(s) == -1)
		return;
	if (r == 2) {
		finish(s, SPF_PERMERROR, "%s", "redirect to an invalid name");
		return;
	}
	snprintf(f->domain, sizeof(f->domain), "%s", s->target);
	f->have_record = 0;
	f->redirected = 1;
}

static void
frame_next(struct spf *s)
{
	struct spf_frame	*f = top(s);

	if (!f->have_record)
		ask(s, W_RECORD, f->domain, DNSQ_TXT);
	else if (f->term < f->rec.nterms)
		eval_term(s);
	else
		frame_end(s);
}

int
spf_step(struct spf *s, const struct dnsq_answer *a, struct dnsq_query *q)
{
	if (!s->done && a != NULL && s->waiting != W_NONE)
		got_answer(s, a);
	while (!s->done && s->waiting == W_NONE)
		frame_next(s);
	if (s->done)
		return SPF_STEP_DONE;
	*q = s->q;
	return SPF_STEP_DNS;
}

int
spf_result(const struct spf *s)
{
	return s->result;
}

const char *
spf_result_name(int r)
{
	if (r < 0 || r > SPF_PERMERROR)
		return "permerror";
	return result_names[r];
}

const char *
spf_domain(const struct spf *s)
{
	return s->domain;
}

const char *
spf_sender(const struct spf *s)
{
	return s->sender;
}

const char *
spf_explanation(const struct spf *s)
{
	return s->explanation;
}

const char *
spf_reason(const struct spf *s)
{
	return s->reason;
}
