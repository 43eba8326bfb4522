/*
 * The Authentication-Results header field (RFC 8601): built once per
 * message from the iprev, SPF, DKIM and DMARC verdicts under our authserv-id,
 * and recognised on incoming mail when it claims our authserv-id, so
 * that such a forged field can be removed before ours is added.
 */

#ifndef TSAMBA_AUTHRES_H
#define TSAMBA_AUTHRES_H

#include <stddef.h>

#include "dkim_verify.h"

#define AUTHRES_MAX	4096	/* the whole field */
#define AUTHRES_END	16	/* kept free for "; none" CRLF */

struct authres {
	char	 buf[AUTHRES_MAX];
	size_t	 len;
	size_t	 col;		/* of the current line */
	int	 methods;	/* resinfo written */
	int	 full;		/* something did not fit: left out */
	size_t	 mark;		/* length before the last resinfo */
	int	 marked;	/* methods before it */
};

void	authres_init(struct authres *, const char *authserv_id);
/*
 * spf=<result> with smtp.mailfrom (the reverse-path, or its domain) or
 * smtp.helo for the HELO identity; result as spf_result_name() says.
 */
void	authres_spf(struct authres *, const char *result, int helo,
	    const char *identity);
/* One dkim= per signature, or dkim=none without a signature. */
void	authres_dkim(struct authres *, const struct dkim_result *);
void	authres_dkim_none(struct authres *);
/* dmarc=<result> (p=<policy published>) header.from=<domain>. */
void	authres_dmarc(struct authres *, const char *result,
	    const char *policy, const char *from_domain);
/*
 * iprev=<result> policy.iprev=<client address> (<the name that
 * matched, or the first PTR name>), RFC 8601 2.7.3.
 */
void	authres_iprev(struct authres *, const char *result, const char *ip,
	    const char *name);
/* The field, "Authentication-Results: ...\r\n", NUL-terminated. */
const char *authres_field(struct authres *, size_t *len);

/*
 * 1 if field (a whole header field, name and value, as in the message)
 * is an Authentication-Results field with this authserv-id.
 */
int	authres_is_ours(const char *field, size_t len,
	    const char *authserv_id);

#endif
