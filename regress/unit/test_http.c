/*
 * Unit tests for metricsd/http_parse.c: complete requests with their
 * method, path and length; partial ones wait; each kind of bad input
 * gets its status; nothing past the limit is ever "incomplete".
 */

#include <stdlib.h>
#include <string.h>

#include "../../metricsd/http_parse.h"
#include "unit.h"

static int
parse(const char *s, struct http_request *req)
{
	return http_parse(s, strlen(s), req);
}

static void
test_good(void)
{
	struct http_request	 req;
	const char		*r;

	r = "GET /metrics HTTP/1.1\r\nHost: x:9154\r\nAccept: */*\r\n\r\n";
	CHECK(parse(r, &req) == 200);
	CHECK(strcmp(req.method, "GET") == 0);
	CHECK(strcmp(req.path, "/metrics") == 0);
	CHECK(req.minor == 1 && req.length == strlen(r));

	/* Bare LF, a query, HTTP/1.0, no fields, leading empty lines. */
	CHECK(parse("\r\n\nHEAD /metrics?x=1 HTTP/1.0\n\n", &req) == 200);
	CHECK(strcmp(req.method, "HEAD") == 0);
	CHECK(strcmp(req.path, "/metrics") == 0 && req.minor == 0);
	/* What follows the request is not part of it. */
	r = "GET / HTTP/1.1\r\n\r\nGET /x HTTP/1.1\r\n\r\n";
	CHECK(parse(r, &req) == 200 && req.length == 18);
	/* Any token is a method; the server answers 405 to it. */
	CHECK(parse("BREW /pot HTTP/1.1\r\n\r\n", &req) == 200);
	CHECK(parse("GET / HTTP/1.1\r\nX-Empty:\r\n\r\n", &req) == 200);
}

static void
test_incomplete(void)
{
	struct http_request	 req;
	const char		*r = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
	size_t			 i;

	for (i = 0; i < strlen(r); i++)
		CHECKF(http_parse(r, i, &req) == 0, "prefix %zu", i);
	CHECK(http_parse("", 0, &req) == 0);
}

static void
test_bad(void)
{
	struct http_request	 req;
	char			*big;

	CHECK(parse("GET /metrics\r\n\r\n", &req) == 400);
	CHECK(parse("GET  /metrics HTTP/1.1\r\n\r\n", &req) == 400);
	CHECK(parse("GET metrics HTTP/1.1\r\n\r\n", &req) == 400);
	CHECK(parse("GET http://x/metrics HTTP/1.1\r\n\r\n", &req) == 400);
	CHECK(parse("GET /a\tb HTTP/1.1\r\n\r\n", &req) == 400);
	CHECK(parse("GET /metrics HTTP/1.1 \r\n\r\n", &req) == 400);
	CHECK(parse("GET /metrics http/1.1\r\n\r\n", &req) == 400);
	CHECK(parse("GET /metrics HTTP/2.0\r\n\r\n", &req) == 505);
	CHECK(parse("GET /metrics HTTP/0.9\r\n\r\n", &req) == 505);
	CHECK(parse("G(T /metrics HTTP/1.1\r\n\r\n", &req) == 400);
	CHECK(parse("GETGETGETGETGETGET / HTTP/1.1\r\n\r\n", &req) == 501);
	CHECK(parse("GET /\rx HTTP/1.1\r\n\r\n", &req) == 400);
	CHECK(parse("GET / HTTP/1.1\r\nNoColon\r\n\r\n", &req) == 400);
	CHECK(parse("GET / HTTP/1.1\r\n: value\r\n\r\n", &req) == 400);
	CHECK(parse("GET / HTTP/1.1\r\nBad Name: v\r\n\r\n", &req) == 400);
	CHECK(parse("GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", &req) ==
	    400);
	CHECK(parse("GET / HTTP/1.1\r\nA: b\x01\r\n\r\n", &req) == 400);
	CHECK(http_parse("GET / HTTP/1.1\r\nA: \0\r\n\r\n", 24, &req) == 400);

	if ((big = malloc(HTTP_REQUEST_MAX + 64)) == NULL)
		return;
	/* A target over the limit. */
	memset(big, 'a', HTTP_TARGET_MAX + 10);
	memcpy(big, "GET /", 5);
	strcpy(big + HTTP_TARGET_MAX + 10, " HTTP/1.1\r\n\r\n");
	CHECK(parse(big, &req) == 414);
	/* Headers that never end within the limit. */
	memset(big, 'a', HTTP_REQUEST_MAX + 10);
	memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
	CHECK(http_parse(big, HTTP_REQUEST_MAX + 10, &req) == 431);
	CHECK(http_parse(big, HTTP_REQUEST_MAX - 1, &req) == 0);
	/* Too many fields. */
	strcpy(big, "GET / HTTP/1.1\r\n");
	while (strlen(big) < HTTP_REQUEST_MAX - 100)
		strcat(big, "A: b\r\n");
	strcat(big, "\r\n");
	CHECK(parse(big, &req) == 431);
	free(big);
}

int
main(void)
{
	test_good();
	test_incomplete();
	test_bad();
	return unit_done("test_http");
}
