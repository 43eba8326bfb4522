/*
 * SASL helpers (sasl.c): strict base64 and RFC 4616 PLAIN.
 */

#ifndef TSAMBA_SASL_H
#define TSAMBA_SASL_H

#include <stddef.h>

/* RFC 4616: the three parts of a decoded PLAIN response. */
struct sasl_plain {
	const char	*authzid;	/* "" when absent */
	const char	*authcid;
	const char	*pass;		/* NUL-terminated at passlen */
	size_t		 passlen;
};

/*
 * Strict base64; "=" is an empty response.  out is NUL-terminated.
 * 0, -1 when malformed, -2 when it does not fit outsz.
 */
int		 sasl_base64_decode(const char *in, char *out, size_t outsz,
		    size_t *outlen);
/* buf of len bytes, NUL-terminated at len: 0, or -1 if malformed. */
int		 sasl_plain_split(const char *buf, size_t len,
		    struct sasl_plain *);

#endif
