/*
 * SPF (RFC 7208): the record parser and check_host() as a state
 * machine.  The caller starts a check for one identity (MAIL FROM or
 * HELO) of a client address, then calls spf_step() until it returns
 * SPF_STEP_DONE, each time answering the one DNS question it asked
 * (dnsq.h).  Nothing here blocks, resolves or logs.
 */

#ifndef TSAMBA_SPF_H
#define TSAMBA_SPF_H

#include <netinet/in.h>

#include <stddef.h>
#include <time.h>

#include "dnsq.h"

#define SPF_NONE	0
#define SPF_NEUTRAL	1
#define SPF_PASS	2
#define SPF_FAIL	3
#define SPF_SOFTFAIL	4
#define SPF_TEMPERROR	5
#define SPF_PERMERROR	6

#define SPF_MAILFROM	0	/* the identity checked */
#define SPF_HELO	1

#define SPF_STEP_DONE	0
#define SPF_STEP_DNS	1

#define SPF_RECORD_MAX	2048	/* one record's text */
#define SPF_TERMS_MAX	96	/* its terms */
#define SPF_LOOKUP_MAX	10	/* DNS terms (RFC 7208 4.6.4) */
#define SPF_VOID_MAX	2	/* void lookups (RFC 7208 4.6.4) */
#define SPF_NAMES_MAX	10	/* MX or PTR names looked at */
#define SPF_EXPLAIN_MAX	512
#define SPF_REASON_MAX	256

/* Mechanisms, then the modifiers. */
#define SPF_M_ALL	1
#define SPF_M_INCLUDE	2
#define SPF_M_A		3
#define SPF_M_MX	4
#define SPF_M_PTR	5
#define SPF_M_IP4	6
#define SPF_M_IP6	7
#define SPF_M_EXISTS	8

struct spf_term {
	int		 mech;		/* SPF_M_* */
	int		 result;	/* SPF_PASS, ... by the qualifier */
	size_t		 spec;		/* domain-spec in text, or len 0 */
	size_t		 speclen;
	int		 cidr4;		/* prefix lengths */
	int		 cidr6;
	struct in_addr	 ip4;
	struct in6_addr	 ip6;
};

struct spf_record {
	char		 text[SPF_RECORD_MAX];
	size_t		 nterms;
	struct spf_term	 terms[SPF_TERMS_MAX];
	size_t		 redirect;	/* domain-spec offsets, len 0 if none */
	size_t		 redirectlen;
	size_t		 exp;
	size_t		 explen;
};

/*
 * One record ("v=spf1 ..."): 0, or -1 with the reason in err on a
 * syntax error (a permerror).
 */
int	spf_record_parse(struct spf_record *, const char *, size_t,
	    char *err, size_t errsz);
/* 1 if this TXT text is an SPF record: "v=spf1" then a space or end. */
int	spf_record_is(const char *, size_t);

struct spf;

struct spf *spf_new(void);
void	spf_free(struct spf *);
/*
 * Starts a check: ip is numeric text, helo the HELO/EHLO argument,
 * mailfrom the reverse-path without brackets ("" for the null sender,
 * which is then checked as postmaster@helo).  0, or -1 if ip is not an
 * address.
 */
int	spf_start(struct spf *, int identity, const char *ip,
	    const char *helo, const char *mailfrom);
/* Optional, before spf_step: %{r} (else "unknown") and %{t}. */
void	spf_set_receiver(struct spf *, const char *);
void	spf_set_time(struct spf *, time_t);
/*
 * Advances the check with the answer to the last question (NULL the
 * first time): SPF_STEP_DNS with the next question in q, or
 * SPF_STEP_DONE when the result is known.
 */
int	spf_step(struct spf *, const struct dnsq_answer *,
	    struct dnsq_query *q);

int	spf_result(const struct spf *);
const char *spf_result_name(int);
/* The domain checked: the MAIL FROM domain, or the HELO name. */
const char *spf_domain(const struct spf *);
/* The sender checked: "local@domain". */
const char *spf_sender(const struct spf *);
/* The expanded exp= text of a fail, else "". */
const char *spf_explanation(const struct spf *);
/* What decided: the matching term or the error, for logs and headers. */
const char *spf_reason(const struct spf *);

/*
 * Macro expansion (RFC 7208 7) against the check started, for the
 * tests: 0, -1 on a syntax error, 1 if %{p} needs DNS first.  explain
 * allows the c, r and t letters and spaces.
 */
int	spf_macro_expand(struct spf *, const char *, size_t, int explain,
	    char *out, size_t outsz);

#endif
