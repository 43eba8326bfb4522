/*
 * The request parser of tsamba-metricsd: strict where a mistake could
 * confuse (the request line, field syntax, obsolete line folding),
 * bounded everywhere, and it never reads past len.  Lines end in CRLF;
 * a bare LF is taken too (RFC 9112 2.2 allows it), a bare CR is not.
 */

#include <string.h>

#include "http_parse.h"

/* RFC 9110 5.6.2 tchar. */
static int
is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* The end of the line at buf[off]: the index of its LF, or -1. */
static long
line_end(const char *buf, size_t len, size_t off)
{
	const char	*lf;

	lf = memchr(buf + off, '\n', len - off);
	return lf == NULL ? -1 : lf - buf;
}

/* Length of the line without its CRLF or LF; -1 for a bare CR in it. */
static long
line_len(const char *buf, size_t off, size_t lf)
{
	size_t	 end = lf, i;

	if (end > off && buf[end - 1] == '\r')
		end--;
	for (i = off; i < end; i++)
		if (buf[i] == '\r' || buf[i] == '\0')
			return -1;
	return end - off;
}

static int
parse_request_line(const char *p, size_t n, struct http_request *req)
{
	const char	*sp1, *sp2, *v, *q;
	size_t		 mlen, tlen, plen;

	if ((sp1 = memchr(p, ' ', n)) == NULL)
		return 400;
	mlen = sp1 - p;
	if (mlen == 0)
		return 400;
	if (mlen >= HTTP_METHOD_MAX)
		return 501;
	for (q = p; q < sp1; q++)
		if (!is_tchar(*q))
			return 400;
	if ((sp2 = memchr(sp1 + 1, ' ', n - mlen - 1)) == NULL)
		return 400;
	tlen = sp2 - (sp1 + 1);
	if (tlen == 0)
		return 400;
	if (tlen >= HTTP_TARGET_MAX)
		return 414;
	/* origin-form only: a proxy's absolute-form is not for us. */
	if (sp1[1] != '/')
		return 400;
	for (q = sp1 + 1; q < sp2; q++)
		if ((unsigned char)*q <= 0x20 || (unsigned char)*q >= 0x7f)
			return 400;
	v = sp2 + 1;
	if ((size_t)(p + n - v) != 8 || memcmp(v, "HTTP/", 5) != 0 ||
	    v[5] < '0' || v[5] > '9' || v[6] != '.' || v[7] < '0' ||
	    v[7] > '9')
		return 400;
	if (v[5] != '1')
		return 505;
	memcpy(req->method, p, mlen);
	req->method[mlen] = '\0';
	if ((q = memchr(sp1 + 1, '?', tlen)) != NULL)
		plen = q - (sp1 + 1);
	else
		plen = tlen;
	memcpy(req->path, sp1 + 1, plen);
	req->path[plen] = '\0';
	req->minor = v[7] - '0';
	return 200;
}

/* "name: value": a token, a colon, then visible text and blanks. */
static int
parse_field(const char *p, size_t n)
{
	size_t	 i;

	for (i = 0; i < n && p[i] != ':'; i++)
		if (!is_tchar(p[i]))
			return 400;
	if (i == 0 || i == n)
		return 400;
	for (i++; i < n; i++)
		if ((unsigned char)p[i] < 0x20 && p[i] != '\t')
			return 400;
		else if ((unsigned char)p[i] == 0x7f)
			return 400;
	return 200;
}

int
http_parse(const char *buf, size_t len, struct http_request *req)
{
	size_t	 off = 0, scan, start;
	long	 lf, n;
	int	 rv, nfields = 0;

	memset(req, 0, sizeof(*req));
	scan = len < HTTP_REQUEST_MAX ? len : HTTP_REQUEST_MAX;
	/* RFC 9112 2.2: empty lines before the request line are ignored. */
	while (off + 1 < scan && buf[off] == '\r' && buf[off + 1] == '\n')
		off += 2;
	while (off < scan && buf[off] == '\n')
		off++;
	if ((lf = line_end(buf, scan, off)) == -1)
		goto incomplete;
	if ((n = line_len(buf, off, lf)) == -1)
		return 400;
	if ((rv = parse_request_line(buf + off, n, req)) != 200)
		return rv;
	off = lf + 1;
	for (;;) {
		if ((lf = line_end(buf, scan, off)) == -1)
			goto incomplete;
		if ((n = line_len(buf, off, lf)) == -1)
			return 400;
		start = off;
		off = lf + 1;
		if (n == 0)
			break;
		/* RFC 9112 5.2: obsolete line folding is refused. */
		if (buf[start] == ' ' || buf[start] == '\t')
			return 400;
		if (++nfields > HTTP_HEADERS_MAX)
			return 431;
		if ((rv = parse_field(buf + start, n)) != 200)
			return rv;
	}
	req->length = off;
	return 200;
 incomplete:
	memset(req, 0, sizeof(*req));
	/* No end in sight within the limit: it will never fit. */
	if (len >= HTTP_REQUEST_MAX)
		return 431;
	return 0;
}
