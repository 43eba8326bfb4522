/*
 * Enough of SPF (RFC 7208) for tsambactl health to say whether a
 * domain's record allows this host's addresses: the record is found
 * (one "v=spf1" TXT record), and its mechanisms are tried in order:
 * all, ip4, ip6, a, mx, include, then the redirect modifier, with the
 * qualifiers + - ~ ? and the limit of 10 terms that cost a lookup
 * (4.6.4).  What this does not evaluate: macros (a domain-spec with
 * '%'), ptr and exists; such a term is skipped (it does not match) and
 * the result says so.  It decides for one address a health check
 * knows, it is not the receiving side's evaluator.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ctl_health.h"

#define SPF_LOOKUPS_MAX		10	/* RFC 7208 4.6.4 */
#define SPF_MX_MAX		10	/* hosts of one mx term, 4.6.4 */
#define SPF_ADDRS_MAX		32
#define SPF_RECORDS_MAX		8

struct spf_eval {
	const struct hdns_addr	*ip;
	int			 lookups;
	char			*why;
	size_t			 whysz;
	char			 skipped[128];	/* not evaluated */
};

static enum spf_result	spf_domain(struct spf_eval *, const char *);

const char *
health_spf_result_name(enum spf_result r)
{
	switch (r) {
	case SPF_NONE:
		return "none";
	case SPF_NEUTRAL:
		return "neutral";
	case SPF_PASS:
		return "pass";
	case SPF_FAIL:
		return "fail";
	case SPF_SOFTFAIL:
		return "softfail";
	case SPF_TEMPERROR:
		return "temperror";
	default:
		return "permerror";
	}
}

/* The first plen bits of a and b agree. */
static int
prefix_match(const uint8_t *a, const uint8_t *b, int plen)
{
	int	 bytes = plen / 8, bits = plen % 8;

	if (memcmp(a, b, bytes) != 0)
		return 0;
	if (bits == 0)
		return 1;
	return ((a[bytes] ^ b[bytes]) & (0xff << (8 - bits))) == 0;
}

static int
addr_in(const struct hdns_addr *ip, const struct hdns_addr *net, int plen)
{
	if (ip->family != net->family)
		return 0;
	return prefix_match(ip->a, net->a, plen);
}

/* "/24" or "/24//64" at the end of s cut off into p4 and p6. */
static int
cidr_split(char *s, int *p4, int *p6)
{
	char		*sl, *end;
	long		 v;

	*p4 = 32;
	*p6 = 128;
	if ((sl = strstr(s, "//")) != NULL) {
		v = strtol(sl + 2, &end, 10);
		if (*end != '\0' || end == sl + 2 || v < 0 || v > 128)
			return -1;
		*p6 = v;
		*sl = '\0';
	}
	if ((sl = strrchr(s, '/')) != NULL) {
		v = strtol(sl + 1, &end, 10);
		if (*end != '\0' || end == sl + 1 || v < 0 || v > 32)
			return -1;
		*p4 = v;
		*sl = '\0';
	}
	return 0;
}

static int
lookup_count(struct spf_eval *e)
{
	return ++e->lookups > SPF_LOOKUPS_MAX ? -1 : 0;
}

static void
skip(struct spf_eval *e, const char *term)
{
	if (e->skipped[0] != '\0')
		strlcat(e->skipped, " ", sizeof(e->skipped));
	strlcat(e->skipped, term, sizeof(e->skipped));
}

/* 1 the address is one of name's (with the prefixes), 0 not, -1 error. */
static int
addrs_match(struct spf_eval *e, const char *name, int p4, int p6)
{
	struct hdns_addr	 a[SPF_ADDRS_MAX];
	char			 err[256];
	size_t			 n, i;

	switch (hdns_addrs(name, a, SPF_ADDRS_MAX, &n, err, sizeof(err))) {
	case HDNS_ERROR:
		return -1;
	case HDNS_NONE:
		return 0;
	default:
		break;
	}
	for (i = 0; i < n; i++)
		if (addr_in(e->ip, &a[i], a[i].family == AF_INET ? p4 : p6))
			return 1;
	return 0;
}

static int
mx_match(struct spf_eval *e, const char *name, int p4, int p6)
{
	struct hdns_mx	 mx[SPF_MX_MAX];
	char		 err[256];
	size_t		 n, i;
	int		 r;

	switch (hdns_mx(name, mx, SPF_MX_MAX, &n, err, sizeof(err))) {
	case HDNS_ERROR:
		return -1;
	case HDNS_NONE:
		return 0;
	default:
		break;
	}
	for (i = 0; i < n; i++)
		if (mx[i].host[0] != '\0' &&
		    (r = addrs_match(e, mx[i].host, p4, p6)) != 0)
			return r;
	return 0;
}

/*
 * One mechanism (without its qualifier) against the address: 1 match,
 * 0 no match, or a result to end with (temperror, permerror).
 */
static int
mechanism(struct spf_eval *e, const char *domain, const char *term,
    enum spf_result *end)
{
	struct hdns_addr	 net;
	enum spf_result		 res;
	char			 buf[HDNS_TXT_MAX], *arg, *sl, *endp;
	long			 v;
	int			 p4, p6, m, max, plen, r;

	strlcpy(buf, term, sizeof(buf));
	if ((arg = strchr(buf, ':')) != NULL)
		*arg++ = '\0';
	if (strcasecmp(buf, "all") == 0 && arg == NULL)
		return 1;
	if (strcasecmp(buf, "ip4") == 0 || strcasecmp(buf, "ip6") == 0) {
		if (arg == NULL)
			goto perm;
		net.family = buf[2] == '6' ? AF_INET6 : AF_INET;
		max = net.family == AF_INET6 ? 128 : 32;
		plen = max;
		if ((sl = strchr(arg, '/')) != NULL) {
			*sl++ = '\0';
			v = strtol(sl, &endp, 10);
			if (*endp != '\0' || endp == sl || v < 0 || v > max)
				goto perm;
			plen = v;
		}
		if (inet_pton(net.family, arg, net.a) != 1)
			goto perm;
		return addr_in(e->ip, &net, plen);
	}
	if (strncasecmp(buf, "a", 2) == 0 || strncasecmp(buf, "a/", 2) == 0 ||
	    strncasecmp(buf, "mx", 3) == 0 || strncasecmp(buf, "mx/", 3) == 0) {
		m = tolower((unsigned char)buf[0]) == 'm';
		if (lookup_count(e) == -1 || (arg != NULL && *arg == '\0'))
			goto perm;
		if (cidr_split(arg != NULL ? arg : buf, &p4, &p6) == -1)
			goto perm;
		if (arg != NULL && strchr(arg, '%') != NULL) {
			skip(e, term);
			return 0;
		}
		r = m ? mx_match(e, arg ? arg : domain, p4, p6) :
		    addrs_match(e, arg ? arg : domain, p4, p6);
		if (r == -1) {
			*end = SPF_TEMPERROR;
			return -1;
		}
		return r;
	}
	if (strcasecmp(buf, "include") == 0 && arg != NULL && *arg != '\0') {
		if (lookup_count(e) == -1)
			goto perm;
		if (strchr(arg, '%') != NULL) {
			skip(e, term);
			return 0;
		}
		switch ((res = spf_domain(e, arg))) {
		case SPF_PASS:
			return 1;
		case SPF_TEMPERROR:
		case SPF_PERMERROR:
			*end = res;
			return -1;
		case SPF_NONE:
			/* RFC 7208 5.2: an include without a record. */
			snprintf(e->why, e->whysz, "include:%.200s has no SPF "
			    "record", arg);
			*end = SPF_PERMERROR;
			return -1;
		default:
			return 0;
		}
	}
	if (strcasecmp(buf, "ptr") == 0 || strcasecmp(buf, "exists") == 0) {
		if (lookup_count(e) == -1)
			goto perm;
		skip(e, term);
		return 0;
	}
 perm:
	snprintf(e->why, e->whysz, "bad or too many terms at \"%.60s\" in "
	    "%s", term, domain);
	*end = SPF_PERMERROR;
	return -1;
}

/* The one "v=spf1" record of domain, or a result to return. */
static int
record_find(const char *domain, char *rec, size_t recsz,
    enum spf_result *end, struct spf_eval *e)
{
	char		*txt[SPF_RECORDS_MAX], err[256];
	size_t		 n, i, found = 0;

	switch (hdns_txt(domain, txt, SPF_RECORDS_MAX, &n, err,
	    sizeof(err))) {
	case HDNS_ERROR:
		snprintf(e->why, e->whysz, "%s", err);
		*end = SPF_TEMPERROR;
		return -1;
	case HDNS_NONE:
		snprintf(e->why, e->whysz, "no SPF record at %s", domain);
		*end = SPF_NONE;
		return -1;
	default:
		break;
	}
	for (i = 0; i < n; i++)
		if (strncasecmp(txt[i], "v=spf1", 6) == 0 &&
		    (txt[i][6] == '\0' || txt[i][6] == ' ')) {
			if (found++ == 0)
				strlcpy(rec, txt[i], recsz);
		}
	hdns_txt_free(txt, n);
	if (found == 0) {
		snprintf(e->why, e->whysz, "no SPF record at %s", domain);
		*end = SPF_NONE;
		return -1;
	}
	if (found > 1) {
		snprintf(e->why, e->whysz, "%zu SPF records at %s", found,
		    domain);
		*end = SPF_PERMERROR;
		return -1;
	}
	return 0;
}

static enum spf_result
qualifier_result(char q)
{
	switch (q) {
	case '-':
		return SPF_FAIL;
	case '~':
		return SPF_SOFTFAIL;
	case '?':
		return SPF_NEUTRAL;
	default:
		return SPF_PASS;
	}
}

static enum spf_result
spf_domain(struct spf_eval *e, const char *domain)
{
	char		 rec[HDNS_TXT_MAX], redirect[HDNS_NAME_MAX] = "";
	char		*p, *term, *eq;
	enum spf_result	 end;
	int		 r;

	if (record_find(domain, rec, sizeof(rec), &end, e) == -1)
		return end;
	p = rec + 6;
	while ((term = strsep(&p, " ")) != NULL) {
		if (*term == '\0')
			continue;
		eq = strchr(term, '=');
		if (eq != NULL && eq < term + strcspn(term, ":/")) {
			/* A modifier: only redirect matters here. */
			if (strncasecmp(term, "redirect=", 9) == 0)
				strlcpy(redirect, eq + 1, sizeof(redirect));
			continue;
		}
		end = qualifier_result(*term);
		r = mechanism(e, domain, strchr("+-~?", *term) ? term + 1 :
		    term, &end);
		if (r == -1)
			return end;
		if (r == 1) {
			snprintf(e->why, e->whysz, "\"%.80s\" in %s", term,
			    domain);
			return end;
		}
	}
	if (redirect[0] != '\0') {
		if (lookup_count(e) == -1 || strchr(redirect, '%') != NULL) {
			snprintf(e->why, e->whysz, "redirect=%s not followed",
			    redirect);
			return SPF_PERMERROR;
		}
		if ((end = spf_domain(e, redirect)) == SPF_NONE)
			return SPF_PERMERROR;
		return end;
	}
	snprintf(e->why, e->whysz, "no term of %s matches", domain);
	return SPF_NEUTRAL;
}

enum spf_result
spf_check(const char *domain, const struct hdns_addr *ip, char *why,
    size_t whysz)
{
	struct spf_eval	 e;
	enum spf_result	 r;
	size_t		 n;

	memset(&e, 0, sizeof(e));
	e.ip = ip;
	e.why = why;
	e.whysz = whysz;
	why[0] = '\0';
	r = spf_domain(&e, domain);
	if (e.skipped[0] != '\0' && r != SPF_PASS) {
		n = strlen(why);
		snprintf(why + n, whysz - n, " (not evaluated: %s)",
		    e.skipped);
	}
	return r;
}
