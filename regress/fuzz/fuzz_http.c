/*
 * fuzz_http: libFuzzer target for metricsd/http_parse.c.  Besides
 * crashes and reads past the input it checks what the parser promises:
 * an answer is 0 or one of the statuses of http_parse.h; a complete
 * request has a method of token characters, a path that starts with '/'
 * and holds no blank, and a length within the input and the limit; a
 * prefix of a complete request is never taken for a different one; and
 * an input of the limit's size is never "incomplete".
 *
 * Build and run from the top of the tree:
 *   make regress/fuzz/fuzz_http
 *   ./regress/fuzz/fuzz_http -max_total_time=60 -max_len=9000
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../metricsd/http_parse.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_request	 req, pre;
	const char		*p;
	char			*buf;
	size_t			 k;
	int			 rv, rv2;

	/* An exact-size copy: ASan sees any read past the end. */
	if ((buf = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(buf, data, size);
	rv = http_parse(buf, size, &req);
	if (rv != 0 && rv != 200 && rv != 400 && rv != 414 && rv != 431 &&
	    rv != 501 && rv != 505)
		abort();
	if (rv == 0 && size >= HTTP_REQUEST_MAX)
		abort();
	if (rv == 200) {
		if (req.length == 0 || req.length > size ||
		    req.length > HTTP_REQUEST_MAX || req.path[0] != '/' ||
		    req.method[0] == '\0' || req.minor < 0 || req.minor > 9)
			abort();
		for (p = req.path; *p != '\0'; p++)
			if ((unsigned char)*p <= 0x20)
				abort();
		/* The same request alone parses the same. */
		rv2 = http_parse(buf, req.length, &pre);
		if (rv2 != 200 || pre.length != req.length ||
		    strcmp(pre.path, req.path) != 0 ||
		    strcmp(pre.method, req.method) != 0)
			abort();
		/* A shorter prefix is incomplete or an error, never done. */
		k = req.length - 1;
		rv2 = http_parse(buf, k, &pre);
		if (rv2 == 200)
			abort();
	}
	free(buf);
	return 0;
}
