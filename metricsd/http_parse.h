/*
 * The one HTTP request tsamba-metricsd understands: a request line and
 * header fields (RFC 9112), no body, all of it in a bounded buffer.
 */

#ifndef TSAMBA_HTTP_PARSE_H
#define TSAMBA_HTTP_PARSE_H

#include <stddef.h>

#define HTTP_REQUEST_MAX	8192	/* request line and headers */
#define HTTP_TARGET_MAX		256
#define HTTP_METHOD_MAX		16
#define HTTP_HEADERS_MAX	64

struct http_request {
	char	 method[HTTP_METHOD_MAX];	/* "GET" */
	char	 path[HTTP_TARGET_MAX];		/* target without ?query */
	int	 minor;				/* HTTP/1.minor */
	size_t	 length;			/* bytes of the request */
};

/*
 * Parse the start of buf.  0: the request is not complete yet (and may
 * still fit); 200: req is filled; else the status to answer with: 400
 * (malformed), 414 (target too long), 431 (headers too large or too
 * many), 501 (method token too long), 505 (not HTTP/1.x).
 */
int	http_parse(const char *buf, size_t len, struct http_request *req);

#endif
