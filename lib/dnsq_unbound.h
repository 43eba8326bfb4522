/*
 * dnsq answers from libunbound, the resolver the mta already runs
 * (queue/mta_dns.c), so that a process asking SPF, DKIM and DMARC
 * questions hands each evaluator what ub_resolve_async() returned.
 */

#ifndef TSAMBA_DNSQ_UNBOUND_H
#define TSAMBA_DNSQ_UNBOUND_H

#include <unbound.h>

#include "dnsq.h"

/*
 * err and res as the ub_callback_type got them (res may be NULL when
 * err is set).  A resolver error, a failed DNSSEC validation or an
 * rcode other than NOERROR and NXDOMAIN is DNSQ_SERVFAIL; records that
 * do not parse are left out.
 */
void	dnsq_answer_from_ub(struct dnsq_answer *, int qtype, int err,
	    const struct ub_result *res);

/*
 * A query name in the presentation form ub_resolve_async() reads:
 * bytes other than letters, digits, '-', '_' and the label dots as
 * \DDD.  0, or -1 if it does not fit.
 */
int	dnsq_name_escape(const char *name, char *out, size_t outsz);

/*
 * The resolver of a process that asks (the mta, smtpd's checks,
 * tsambactl health): asynchronous, answers signalled on ub_fd(), a
 * resolver on localhost allowed.  With fwd (what names it in errors:
 * "mta resolver") it asks only there and passes "test." on to it
 * (libunbound answers NXDOMAIN for it itself, RFC 6761); fwd "" reads
 * /etc/resolv.conf.  NULL and err on failure; a resolv.conf that cannot
 * be read gives the context (it resolves from the root) and err set.
 */
struct ub_ctx	*dnsq_ub_new(const char *fwd, const char *what, char *err,
		    size_t errsz);

/*
 * A host name in rdata (MX, PTR), uncompressed wire format as
 * libunbound returns it: 0 and the text lowercased ("" for the root),
 * or -1 if malformed, too long, or holding a byte other than letters,
 * digits, '-' and '_'.
 */
int	dnsq_wire_host(const unsigned char *p, size_t len, char *buf,
	    size_t bufsz);

#endif
