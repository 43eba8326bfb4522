/*
 * The Received-SPF header field (RFC 7208 9.1), which an admin may ask
 * for besides Authentication-Results: the result, a comment a person
 * can read, and the key=value pairs a program can.
 */

#ifndef TSAMBA_RECEIVED_SPF_H
#define TSAMBA_RECEIVED_SPF_H

#include <stddef.h>

struct received_spf {
	const char	*result;	/* spf_result_name() */
	const char	*receiver;	/* our host name */
	const char	*ip;		/* the client */
	const char	*sender;	/* "local@domain" checked */
	const char	*helo;
	int		 helo_identity;	/* the HELO name was checked */
	const char	*problem;	/* for the errors, or NULL */
};

/*
 * The field, folded, "Received-SPF: ...\r\n", into buf: its length, or
 * -1 if it does not fit.
 */
int	received_spf_field(const struct received_spf *, char *buf,
	    size_t bufsz);

#endif
