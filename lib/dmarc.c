/*
 * DMARC (RFC 7489) record parsing and evaluation.  Two TXT questions at
 * most: the From domain's policy, then the organisational domain's
 * when the first has none.  Alignment compares the SPF-authenticated
 * domain and each DKIM d= that passed with the From domain, exactly
 * (strict) or by organisational domain (relaxed).
 */

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dkim_verify.h"
#include "dmarc.h"

#define STATE_FROM	0	/* asking _dmarc.<from> */
#define STATE_ORG	1	/* asking _dmarc.<org> */
#define STATE_DONE	2
#define STATE_FOUND	3	/* record in, evaluation deferred */

struct dmarc {
	const struct psl	*psl;
	char			 from[DNSQ_NAME_MAX];
	char			 org[DNSQ_NAME_MAX];
	int			 spf_pass;
	char			 spf_domain[DNSQ_NAME_MAX];
	size_t			 ndkim;
	char			 dkim[DMARC_DKIM_MAX][DNSQ_NAME_MAX];
	uint32_t		(*rand)(void *);
	void			*rand_arg;

	int			 state;
	int			 result;
	int			 policy;
	int			 published;
	int			 sampled_out;
	int			 spf_aligned;
	int			 dkim_aligned;
	int			 have_record;
	int			 defer;		/* dmarc_defer() */
	int			 subdomain;	/* the record is the org's */
	struct dmarc_record	 rec;
	char			 reason[160];
};

static const char *result_names[] = {
	"none", "pass", "fail", "temperror", "permerror",
};
static const char *policy_names[] = { "none", "quarantine", "reject" };

const char *
dmarc_result_name(int r)
{
	return r < 0 || r > DMARC_PERMERROR ? "permerror" : result_names[r];
}

const char *
dmarc_policy_name(int p)
{
	return p < 0 || p > DMARC_P_REJECT ? "none" : policy_names[p];
}

int
dmarc_record_is(const char *p, size_t len)
{
	size_t	 i = 0;

	while (i < len && (p[i] == ' ' || p[i] == '\t'))
		i++;
	if (len - i < 1 || p[i] != 'v')
		return 0;
	for (i++; i < len && (p[i] == ' ' || p[i] == '\t'); i++)
		;
	if (i == len || p[i++] != '=')
		return 0;
	while (i < len && (p[i] == ' ' || p[i] == '\t'))
		i++;
	if (len - i < 6 || strncasecmp(p + i, "DMARC1", 6) != 0)
		return 0;
	for (i += 6; i < len && (p[i] == ' ' || p[i] == '\t'); i++)
		;
	return i == len || p[i] == ';';
}

static int
tag_is(const struct dkim_tag *t, const char *s)
{
	return t->valuelen == strlen(s) &&
	    strncasecmp(t->value, s, t->valuelen) == 0;
}

static int
parse_policy(const struct dkim_tag *t)
{
	if (tag_is(t, "none"))
		return DMARC_P_NONE;
	if (tag_is(t, "quarantine"))
		return DMARC_P_QUARANTINE;
	if (tag_is(t, "reject"))
		return DMARC_P_REJECT;
	return -1;
}

static int
parse_align(const struct dkim_tag *t)
{
	if (tag_is(t, "r"))
		return 'r';
	if (tag_is(t, "s"))
		return 's';
	return -1;
}

/* A decimal up to max, or -1. */
static long
parse_uint(const struct dkim_tag *t, long max)
{
	long	 v = 0;
	size_t	 i;

	if (t->valuelen == 0 || t->valuelen > 10)
		return -1;
	for (i = 0; i < t->valuelen; i++) {
		if (!isdigit((unsigned char)t->value[i]))
			return -1;
		v = v * 10 + (t->value[i] - '0');
	}
	return v > max ? -1 : v;
}

static int
parse_fo(const struct dkim_tag *t)
{
	size_t	 i;
	int	 fo = 0;

	for (i = 0; i < t->valuelen; i++) {
		switch (t->value[i]) {
		case '0':
			fo |= DMARC_FO_0;
			break;
		case '1':
			fo |= DMARC_FO_1;
			break;
		case 'd':
			fo |= DMARC_FO_D;
			break;
		case 's':
			fo |= DMARC_FO_S;
			break;
		case ':':
		case ' ':
		case '\t':
			break;
		default:
			return -1;
		}
	}
	return fo;
}

/* A comma-separated list of URIs, each with a scheme ("mailto:..."). */
static int
copy_uris(char *out, size_t outsz, const struct dkim_tag *t)
{
	size_t	 i, start = 0;

	if (t->valuelen == 0 || t->valuelen >= outsz)
		return -1;
	for (i = 0; i <= t->valuelen; i++) {
		if (i < t->valuelen && t->value[i] != ',')
			continue;
		if (memchr(t->value + start, ':', i - start) == NULL)
			return -1;
		start = i + 1;
	}
	memcpy(out, t->value, t->valuelen);
	out[t->valuelen] = '\0';
	return 0;
}

static const struct dkim_tag *
find(const struct dkim_tag *tags, size_t n, const char *name)
{
	size_t	 i, len = strlen(name);

	for (i = 0; i < n; i++)
		if (tags[i].namelen == len &&
		    strncasecmp(tags[i].name, name, len) == 0)
			return &tags[i];
	return NULL;
}

#define REC_ERR(msg) do {						\
	snprintf(err, errsz, "%s", msg);				\
	return -1;							\
} while (0)

int
dmarc_record_parse(struct dmarc_record *r, const char *p, size_t len,
    char *err, size_t errsz)
{
	struct dkim_tag		 tags[DKIM_TAGS_MAX];
	const struct dkim_tag	*t;
	size_t			 n;
	long			 v;
	int			 rua_ok;

	memset(r, 0, sizeof(*r));
	r->pct = 100;
	r->adkim = r->aspf = 'r';
	r->fo = DMARC_FO_0;
	r->ri = 86400;
	if (!dmarc_record_is(p, len))
		REC_ERR("not a DMARC1 record");
	if (dkim_taglist_parse(p, len, tags, DKIM_TAGS_MAX, &n) == -1)
		REC_ERR("bad tag-list");
	rua_ok = (t = find(tags, n, "rua")) != NULL &&
	    copy_uris(r->rua, sizeof(r->rua), t) == 0;
	if ((t = find(tags, n, "ruf")) != NULL)
		(void)copy_uris(r->ruf, sizeof(r->ruf), t);
	/* p= must be the second tag; without a good one, rua= saves it. */
	t = find(tags, n, "p");
	if (t == NULL || t != &tags[1] || (r->p = parse_policy(t)) == -1) {
		if (!rua_ok)
			REC_ERR("no valid p=");
		r->p = DMARC_P_NONE;
	}
	r->sp = r->p;
	if ((t = find(tags, n, "sp")) != NULL &&
	    (r->sp = parse_policy(t)) == -1) {
		if (!rua_ok)
			REC_ERR("bad sp=");
		r->p = r->sp = DMARC_P_NONE;
	}
	if ((t = find(tags, n, "pct")) != NULL) {
		if ((v = parse_uint(t, 100)) == -1)
			REC_ERR("bad pct=");
		r->pct = v;
	}
	if ((t = find(tags, n, "adkim")) != NULL &&
	    (r->adkim = parse_align(t)) == -1)
		REC_ERR("bad adkim=");
	if ((t = find(tags, n, "aspf")) != NULL &&
	    (r->aspf = parse_align(t)) == -1)
		REC_ERR("bad aspf=");
	if ((t = find(tags, n, "fo")) != NULL &&
	    (r->fo = parse_fo(t)) == -1)
		REC_ERR("bad fo=");
	if ((t = find(tags, n, "ri")) != NULL) {
		if ((v = parse_uint(t, 0x7fffffffL)) == -1)
			REC_ERR("bad ri=");
		r->ri = v;
	}
	return 0;
}

static uint32_t
default_rand(void *arg)
{
	return arc4random();
}

struct dmarc *
dmarc_new(const struct psl *psl)
{
	struct dmarc	*d;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	d->psl = psl;
	d->rand = default_rand;
	return d;
}

void
dmarc_free(struct dmarc *d)
{
	free(d);
}

static int
copy_domain(char *out, const char *in)
{
	size_t	 len = strlen(in), i;

	if (len > 0 && in[len - 1] == '.')
		len--;
	if (len == 0 || len >= DNSQ_NAME_MAX - 8)
		return -1;
	for (i = 0; i < len; i++)
		out[i] = tolower((unsigned char)in[i]);
	out[len] = '\0';
	return 0;
}

int
dmarc_start(struct dmarc *d, const char *from)
{
	uint32_t	(*rnd)(void *) = d->rand;
	void		*rarg = d->rand_arg;
	const struct psl *psl = d->psl;

	memset(d, 0, sizeof(*d));
	d->psl = psl;
	d->rand = rnd;
	d->rand_arg = rarg;
	d->published = -1;
	if (copy_domain(d->from, from) == -1 ||
	    psl_org_domain(psl, d->from, d->org, sizeof(d->org)) == -1) {
		d->state = STATE_DONE;
		d->result = DMARC_PERMERROR;
		snprintf(d->reason, sizeof(d->reason), "invalid From domain");
		return -1;
	}
	d->state = STATE_FROM;
	return 0;
}

void
dmarc_set_spf(struct dmarc *d, int pass, const char *domain)
{
	d->spf_pass = pass && copy_domain(d->spf_domain, domain) == 0;
}

void
dmarc_add_dkim(struct dmarc *d, int pass, const char *domain)
{
	if (pass && d->ndkim < DMARC_DKIM_MAX &&
	    copy_domain(d->dkim[d->ndkim], domain) == 0)
		d->ndkim++;
}

void
dmarc_set_random(struct dmarc *d, uint32_t (*fn)(void *), void *arg)
{
	d->rand = fn;
	d->rand_arg = arg;
}

/* strict: the same name; relaxed: the same organisational domain. */
static int
aligned(const struct dmarc *d, const char *domain, int mode)
{
	char	 org[DNSQ_NAME_MAX];

	if (strcmp(domain, d->from) == 0)
		return 1;
	if (mode == 's')
		return 0;
	if (psl_org_domain(d->psl, domain, org, sizeof(org)) == -1)
		return 0;
	return strcmp(org, d->org) == 0;
}

static void
evaluate(struct dmarc *d, int subdomain)
{
	size_t	 i;

	d->state = STATE_DONE;
	d->published = subdomain ? d->rec.sp : d->rec.p;
	d->spf_aligned = d->spf_pass && aligned(d, d->spf_domain,
	    d->rec.aspf);
	for (i = 0; i < d->ndkim && !d->dkim_aligned; i++)
		d->dkim_aligned = aligned(d, d->dkim[i], d->rec.adkim);
	if (d->spf_aligned || d->dkim_aligned) {
		d->result = DMARC_PASS;
		d->policy = DMARC_P_NONE;
		snprintf(d->reason, sizeof(d->reason), "aligned %s%s%s",
		    d->spf_aligned ? "spf" : "",
		    d->spf_aligned && d->dkim_aligned ? " and " : "",
		    d->dkim_aligned ? "dkim" : "");
		return;
	}
	d->result = DMARC_FAIL;
	d->policy = d->published;
	/* Not sampled: the next policy down (RFC 7489 6.6.4). */
	if (d->rec.pct < 100 && (int)(d->rand(d->rand_arg) % 100) >=
	    d->rec.pct) {
		d->sampled_out = 1;
		if (d->policy > DMARC_P_NONE)
			d->policy--;
	}
	snprintf(d->reason, sizeof(d->reason), "no aligned spf or dkim, "
	    "policy %s%s", dmarc_policy_name(d->published),
	    d->sampled_out ? " (pct sampled out)" : "");
}

void
dmarc_defer(struct dmarc *d)
{
	d->defer = 1;
}

void
dmarc_conclude(struct dmarc *d)
{
	if (d->state == STATE_FOUND)
		evaluate(d, d->subdomain);
}

/* 1 if a policy came; 0 if none there; -1 if DNS failed. */
static int
got_answer(struct dmarc *d, const struct dnsq_answer *a)
{
	const struct dnsq_rr	*rr, *found = NULL;
	char			 err[64];
	size_t			 i, n = 0;

	if (a->rcode == DNSQ_SERVFAIL)
		return -1;
	for (i = 0; a->rcode == DNSQ_NOERROR && i < a->nrr; i++) {
		rr = &a->rr[i];
		if (rr->type == DNSQ_TXT &&
		    dmarc_record_is(dnsq_rr_text(a, rr), rr->len)) {
			found = rr;
			n++;
		}
	}
	/* Several records: as if there were none (RFC 7489 6.6.3). */
	if (n != 1)
		return 0;
	if (dmarc_record_parse(&d->rec, dnsq_rr_text(a, found), found->len,
	    err, sizeof(err)) == -1) {
		snprintf(d->reason, sizeof(d->reason), "record ignored: %s",
		    err);
		return 0;
	}
	d->have_record = 1;
	return 1;
}

int
dmarc_step(struct dmarc *d, const struct dnsq_answer *a,
    struct dnsq_query *q)
{
	char	 name[DNSQ_NAME_MAX + 8];
	int	 r;

	if (d->state == STATE_DONE || d->state == STATE_FOUND)
		return DMARC_STEP_DONE;
	if (a == NULL) {
		snprintf(name, sizeof(name), "_dmarc.%s", d->state ==
		    STATE_FROM ? d->from : d->org);
		dnsq_query_set(q, name, DNSQ_TXT);
		return DMARC_STEP_DNS;
	}
	r = got_answer(d, a);
	if (r == -1) {
		d->state = STATE_DONE;
		d->result = DMARC_TEMPERROR;
		snprintf(d->reason, sizeof(d->reason), "policy lookup failed");
		return DMARC_STEP_DONE;
	}
	if (r == 1) {
		d->subdomain = d->state == STATE_ORG;
		if (d->defer)
			d->state = STATE_FOUND;
		else
			evaluate(d, d->subdomain);
		return DMARC_STEP_DONE;
	}
	if (d->state == STATE_FROM && strcmp(d->from, d->org) != 0) {
		d->state = STATE_ORG;
		snprintf(name, sizeof(name), "_dmarc.%s", d->org);
		dnsq_query_set(q, name, DNSQ_TXT);
		return DMARC_STEP_DNS;
	}
	d->state = STATE_DONE;
	d->result = DMARC_NONE;
	if (d->reason[0] == '\0')
		snprintf(d->reason, sizeof(d->reason), "no policy");
	return DMARC_STEP_DONE;
}

int
dmarc_result(const struct dmarc *d)
{
	return d->result;
}

int
dmarc_policy(const struct dmarc *d)
{
	return d->result == DMARC_FAIL ? d->policy : DMARC_P_NONE;
}

int
dmarc_published(const struct dmarc *d)
{
	return d->published;
}

int
dmarc_sampled_out(const struct dmarc *d)
{
	return d->sampled_out;
}

int
dmarc_spf_aligned(const struct dmarc *d)
{
	return d->spf_aligned;
}

int
dmarc_dkim_aligned(const struct dmarc *d)
{
	return d->dkim_aligned;
}

const char *
dmarc_from_domain(const struct dmarc *d)
{
	return d->from;
}

const char *
dmarc_org_domain(const struct dmarc *d)
{
	return d->org;
}

const struct dmarc_record *
dmarc_found(const struct dmarc *d)
{
	return d->have_record ? &d->rec : NULL;
}

const char *
dmarc_reason(const struct dmarc *d)
{
	return d->reason;
}
