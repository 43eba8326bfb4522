/*
 * DMARC (RFC 7489): the policy record parser, and the evaluation of one
 * message as a state machine over dnsq.h: the policy is looked up at
 * _dmarc.<From domain>, then at its organisational domain (psl.h); the
 * SPF and DKIM results the caller already has are checked for
 * alignment with the From domain; pct sampling may soften the policy.
 * Reports (rua=, ruf=) are parsed but not sent.
 */

#ifndef TSAMBA_DMARC_H
#define TSAMBA_DMARC_H

#include <stddef.h>
#include <stdint.h>

#include "dnsq.h"
#include "psl.h"

#define DMARC_NONE	0	/* no policy published */
#define DMARC_PASS	1
#define DMARC_FAIL	2
#define DMARC_TEMPERROR	3
#define DMARC_PERMERROR	4

/* Policies, and what the receiver should do. */
#define DMARC_P_NONE		0
#define DMARC_P_QUARANTINE	1
#define DMARC_P_REJECT		2

#define DMARC_FO_0	0x01	/* failure report options */
#define DMARC_FO_1	0x02
#define DMARC_FO_D	0x04
#define DMARC_FO_S	0x08

#define DMARC_STEP_DONE	0
#define DMARC_STEP_DNS	1

#define DMARC_URIS_MAX	512
#define DMARC_DKIM_MAX	8	/* DKIM results taken into account */

struct dmarc_record {
	int		 p;		/* DMARC_P_* */
	int		 sp;		/* for subdomains; p if absent */
	int		 pct;		/* 0..100 */
	int		 adkim;		/* 's' or 'r' */
	int		 aspf;
	int		 fo;		/* DMARC_FO_* */
	unsigned long	 ri;		/* report interval, seconds */
	char		 rua[DMARC_URIS_MAX];
	char		 ruf[DMARC_URIS_MAX];
};

/* 1 if the TXT text starts with the v=DMARC1 tag. */
int	dmarc_record_is(const char *, size_t);
/*
 * A record: 0, or -1 with the reason in err.  A bad or missing p= with
 * a valid rua= reads as p=none, as RFC 7489 6.6.3 asks.
 */
int	dmarc_record_parse(struct dmarc_record *, const char *, size_t,
	    char *err, size_t errsz);

struct dmarc;

/* The list is the caller's and must outlive the evaluation. */
struct dmarc *dmarc_new(const struct psl *);
void	dmarc_free(struct dmarc *);
/* A new evaluation for this RFC5322.From domain: 0, or -1 if invalid. */
int	dmarc_start(struct dmarc *, const char *from_domain);
/* What SPF and DKIM said: pass or not, for which domain. */
void	dmarc_set_spf(struct dmarc *, int pass, const char *domain);
void	dmarc_add_dkim(struct dmarc *, int pass, const char *domain);
/* For pct: a number that is then taken modulo 100 (default random). */
void	dmarc_set_random(struct dmarc *, uint32_t (*)(void *), void *arg);
int	dmarc_step(struct dmarc *, const struct dnsq_answer *,
	    struct dnsq_query *);
/*
 * After dmarc_start(): the record lookups may run before the SPF and
 * DKIM results are known; dmarc_step() then stops once the record is
 * in, and dmarc_conclude(), after dmarc_set_spf() and dmarc_add_dkim(),
 * judges the message.
 */
void	dmarc_defer(struct dmarc *);
void	dmarc_conclude(struct dmarc *);

int	dmarc_result(const struct dmarc *);
/* What to do with the message: DMARC_P_NONE unless it failed. */
int	dmarc_policy(const struct dmarc *);
/* The policy published for the From domain (p= or sp=), or -1. */
int	dmarc_published(const struct dmarc *);
/* 1 if pct= sampled the message out of the published policy. */
int	dmarc_sampled_out(const struct dmarc *);
int	dmarc_spf_aligned(const struct dmarc *);
int	dmarc_dkim_aligned(const struct dmarc *);
const char *dmarc_from_domain(const struct dmarc *);
const char *dmarc_org_domain(const struct dmarc *);
/* The record found (NULL if none). */
const struct dmarc_record *dmarc_found(const struct dmarc *);
const char *dmarc_reason(const struct dmarc *);
const char *dmarc_result_name(int);
const char *dmarc_policy_name(int);

#endif
