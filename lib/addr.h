/*
 * RFC 5321 addresses and paths: "<local@domain>" with optional source
 * route, the null path "<>", quoted local parts, address literals, and
 * UTF-8 (RFC 6531) when the session allows it.
 */

#ifndef TSAMBA_ADDR_H
#define TSAMBA_ADDR_H

#include <stddef.h>

#define ADDR_LOCAL_MAX	64	/* RFC 5321 4.5.3.1.1 */
#define ADDR_DOMAIN_MAX	255	/* RFC 5321 4.5.3.1.2 */

struct mailaddr {
	char	local[ADDR_LOCAL_MAX + 1];	/* as given, quotes removed */
	char	domain[ADDR_DOMAIN_MAX + 1];	/* lowercased */
};

#define ADDR_ALLOW_NULL		0x01	/* "<>" accepted (MAIL FROM) */
#define ADDR_ALLOW_UTF8		0x02	/* SMTPUTF8 session */
#define ADDR_ALLOW_NOBRACKET	0x04	/* tolerate a missing < > */

/*
 * Parse a path at the start of s.  On success return 0, fill *a (both
 * parts empty for the null path) and set *rest to the text after the
 * path (ESMTP parameters, leading spaces skipped).  -1 if malformed.
 */
int	addr_parse_path(const char *s, struct mailaddr *a, int flags,
	    const char **rest);
/* Parse a bare address "local@domain" (the whole string): 0 or -1. */
int	addr_parse(const char *s, struct mailaddr *a, int flags);
/* "local@domain", quoting the local part when it needs it; "" if null. */
void	addr_format(const struct mailaddr *a, char *buf, size_t bufsz);
int	addr_is_null(const struct mailaddr *a);
/* Lowercase an address in place for table lookups. */
void	addr_lower(char *);

#endif
