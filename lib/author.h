/*
 * The author domain of a message: the domain of the RFC5322.From
 * field's address(es), which DMARC protects (RFC 7489 3.1 and 6.6.1).
 * Display names, comments, quoted strings and groups are understood so
 * that none of them can pass for the address.
 */

#ifndef TSAMBA_AUTHOR_H
#define TSAMBA_AUTHOR_H

#include <stddef.h>

#define AUTHOR_OK	0
#define AUTHOR_NONE	-1	/* no address, or one that is malformed */
#define AUTHOR_SEVERAL	-2	/* addresses in different domains */

/*
 * The From field's value (after "From:", folding included): AUTHOR_OK
 * with the lowercased domain in out, or AUTHOR_NONE, AUTHOR_SEVERAL.
 */
int	author_domain(const char *value, size_t len, char *out,
	    size_t outsz);

#endif
