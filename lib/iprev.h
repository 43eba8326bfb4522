/*
 * iprev (RFC 8601 3, "forward-confirmed reverse DNS"): the PTR names of
 * a client address, then the A or AAAA records of each name; the check
 * passes when one of them gives the address back.  A state machine
 * like spf.h: iprev_step() hands out one DNS question at a time and is
 * given its answer, so the same code runs on the lookup process's
 * asynchronous resolver and on canned answers in the tests.
 */

#ifndef TSAMBA_IPREV_H
#define TSAMBA_IPREV_H

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <stddef.h>

#include "dnsq.h"

#define IPREV_PASS	0
#define IPREV_FAIL	1	/* no PTR, or no name maps back */
#define IPREV_TEMPERROR	2	/* a lookup failed that may work later */
#define IPREV_PERMERROR	3	/* not an address we can check */

#define IPREV_STEP_DONE	0
#define IPREV_STEP_DNS	1

#define IPREV_NAMES_MAX	10	/* PTR names tried, as SPF's ptr limit */
#define IPREV_REVERSE_MAX 80	/* "4.3.2.1" or 32 nibbles, dotted */

struct iprev {
	int		 family;	/* AF_INET or AF_INET6 */
	struct in_addr	 a4;
	struct in6_addr	 a6;
	char		 names[IPREV_NAMES_MAX][DNSQ_NAME_MAX];
	size_t		 nnames;
	size_t		 next;		/* the name asked about */
	int		 phase;
	int		 temp;		/* a forward lookup failed */
	int		 result;
};

/*
 * The reversed address, "4.3.2.1" or 32 dotted nibbles (v4-mapped IPv6
 * as IPv4), for PTR and DNS list names: 0, or -1 if it does not fit or
 * the family is neither.
 */
int	 iprev_reverse(const struct sockaddr_storage *, char *, size_t);
/* 0, or -1 (result permerror) for an address of another family. */
int	 iprev_start(struct iprev *, const struct sockaddr_storage *);
/*
 * IPREV_STEP_DNS with the question in q, or IPREV_STEP_DONE; a is the
 * answer to the last question (NULL the first time).
 */
int	 iprev_step(struct iprev *, const struct dnsq_answer *,
	    struct dnsq_query *);
int	 iprev_result(const struct iprev *);
/* The name that matched, else the first PTR name, else "". */
const char *iprev_name(const struct iprev *);
const char *iprev_result_name(int);

#endif
