/*
 * The DNS questions and answers of the mail authentication checks (SPF,
 * DKIM, DMARC).  An evaluator never resolves anything itself: it hands
 * out one struct dnsq_query at a time and is given the struct
 * dnsq_answer back, so that the same code runs on the asynchronous
 * resolver (libunbound) in a daemon and on canned answers in the tests.
 * An answer is bounded: a fixed number of records, their text in one
 * fixed pool; what does not fit is left out and the answer says so.
 */

#ifndef TSAMBA_DNSQ_H
#define TSAMBA_DNSQ_H

#include <netinet/in.h>

#include <stddef.h>
#include <stdint.h>

#define DNSQ_NAME_MAX	256	/* a domain name as text, with its NUL */
#define DNSQ_RR_MAX	64	/* records in one answer */
#define DNSQ_DATA_MAX	16384	/* their TXT text and names together */

/* RR types, by their numbers on the wire. */
#define DNSQ_A		1
#define DNSQ_PTR	12
#define DNSQ_MX		15
#define DNSQ_TXT	16
#define DNSQ_AAAA	28

/*
 * How the lookup ended.  SERVFAIL stands for every failure that may go
 * away by itself: a server failure, a timeout, a resolver error.
 */
#define DNSQ_NOERROR	0
#define DNSQ_SERVFAIL	2
#define DNSQ_NXDOMAIN	3

struct dnsq_query {
	char		 name[DNSQ_NAME_MAX];	/* no trailing dot */
	int		 type;			/* DNSQ_* */
};

struct dnsq_rr {
	int		 type;
	uint16_t	 pref;		/* MX preference */
	struct in_addr	 a;
	struct in6_addr	 aaaa;
	size_t		 off;		/* TXT text (strings joined) or the */
	size_t		 len;		/* MX/PTR target name, in data[] */
};

struct dnsq_answer {
	int		 rcode;		/* DNSQ_NOERROR, ... */
	int		 truncated;	/* records were left out */
	size_t		 nrr;
	struct dnsq_rr	 rr[DNSQ_RR_MAX];
	size_t		 datalen;
	char		 data[DNSQ_DATA_MAX];
};

void	dnsq_query_set(struct dnsq_query *, const char *name, int type);
const char *dnsq_type_name(int type);

void	dnsq_answer_init(struct dnsq_answer *, int rcode);
/* Each 0, or -1 (and truncated set) when the answer is full. */
int	dnsq_answer_add_a(struct dnsq_answer *, const struct in_addr *);
int	dnsq_answer_add_aaaa(struct dnsq_answer *, const struct in6_addr *);
int	dnsq_answer_add_txt(struct dnsq_answer *, const char *, size_t);
int	dnsq_answer_add_name(struct dnsq_answer *, int type, uint16_t pref,
	    const char *name);
/*
 * One record in wire form (RFC 1035 rdata, as libunbound returns it,
 * names uncompressed): 0, or -1 if the rdata is malformed or does not
 * fit.
 */
int	dnsq_answer_add_rdata(struct dnsq_answer *, int type,
	    const void *rdata, size_t len);

/* A record's text or name, NUL-terminated in the pool. */
const char *dnsq_rr_text(const struct dnsq_answer *, const struct dnsq_rr *);

#endif
