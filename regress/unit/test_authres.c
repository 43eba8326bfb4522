/*
 * test_authres: lib/authres.c writes the Authentication-Results field a
 * reader expects (RFC 8601: authserv-id, one resinfo a line, quoted
 * values where a token will not do), and recognises incoming fields
 * that claim our authserv-id, and only those.
 */

#include <string.h>

#include "authres.h"
#include "received_spf.h"
#include "unit.h"

static void
test_build(void)
{
	static const char	 tail[] = "dmarc=fail (p=none) header.from="
				    "a-rather-long-domain-name.example.org\r\n";
	struct authres		 a;
	struct dkim_result	 r;
	const char		*f, *line, *nl;
	size_t			 len;

	authres_init(&a, "mx.example.org");
	authres_spf(&a, "pass", 0, "alice@example.org");
	memset(&r, 0, sizeof(r));
	r.result = DKIM_PASS;
	strcpy(r.domain, "example.org");
	strcpy(r.selector, "sel");
	strcpy(r.bprefix, "ab/cd+efGHIJKLMN");
	authres_dkim(&a, &r);
	r.result = DKIM_FAIL;
	strcpy(r.reason, "body hash did not verify");
	strcpy(r.bprefix, "abcdefgh");
	authres_dkim(&a, &r);
	authres_dmarc(&a, "pass", "reject", "example.org");
	f = authres_field(&a, &len);
	CHECKF(strcmp(f, "Authentication-Results: mx.example.org;\r\n"
	    "\tspf=pass smtp.mailfrom=alice@example.org;\r\n"
	    "\tdkim=pass header.d=example.org header.s=sel "
	    "header.b=\"ab/cd+ef\";\r\n"
	    "\tdkim=fail reason=\"body hash did not verify\" "
	    "header.d=example.org\r\n"
	    "\theader.s=sel header.b=abcdefgh;\r\n"
	    "\tdmarc=pass (p=reject) header.from=example.org\r\n") == 0,
	    "%s", f);
	CHECK(len == strlen(f));
	for (line = f; (nl = strchr(line, '\n')) != NULL; line = nl + 1)
		CHECK(nl - line <= 79);

	authres_init(&a, "mx.example.org");
	f = authres_field(&a, NULL);
	CHECK(strcmp(f, "Authentication-Results: mx.example.org; none\r\n")
	    == 0);

	/* HELO identity; an odd MAIL FROM is quoted, not passed raw. */
	authres_init(&a, "mx.example.org");
	authres_spf(&a, "none", 1, "helo.example.net");
	authres_spf(&a, "fail", 0, "a b\"c@example.net");
	authres_dkim_none(&a);
	f = authres_field(&a, NULL);
	CHECKF(strstr(f, "spf=none smtp.helo=helo.example.net;") != NULL &&
	    strstr(f, "smtp.mailfrom=\"a b\\\"c@example.net\"") != NULL &&
	    strstr(f, "dkim=none\r\n") != NULL, "%s", f);

	/* l= is said, so a reader can weigh it. */
	authres_init(&a, "mx.example.org");
	memset(&r, 0, sizeof(r));
	r.result = DKIM_PASS;
	r.limited = 1;
	strcpy(r.domain, "example.org");
	authres_dkim(&a, &r);
	f = authres_field(&a, NULL);
	CHECK(strstr(f, "dkim=pass reason=\"body partly signed (l=)\"") !=
	    NULL);

	/* Too many results: the last that fits is whole, the field ends. */
	authres_init(&a, "mx.example.org");
	for (len = 0; len < 200; len++)
		authres_dmarc(&a, "fail", "none", "a-rather-long-domain-name."
		    "example.org");
	f = authres_field(&a, &len);
	CHECK(len < AUTHRES_MAX && len > 3000);
	CHECK(len > strlen(tail) &&
	    strcmp(f + len - strlen(tail), tail) == 0);
}

static void
test_ours(void)
{
	static const struct {
		const char	*field;
		int		 ours;
	} cases[] = {
		{ "Authentication-Results: mx.example.org; spf=pass", 1 },
		{ "authentication-results:MX.Example.ORG;dkim=pass", 1 },
		{ "Authentication-Results: (forged) mx.example.org 1; none",
		    1 },
		{ "Authentication-Results: \"mx.example.org\"; none", 1 },
		{ "Authentication-Results:\r\n mx.example.org;\r\n\tspf=pass",
		    1 },
		{ "Authentication-Results : mx.example.org; none", 1 },
		{ "Authentication-Results: mx.example.org.evil; none", 0 },
		{ "Authentication-Results: mx.example; none", 0 },
		{ "Authentication-Results: other.example; spf=pass "
		    "smtp.mailfrom=mx.example.org", 0 },
		{ "Authentication-Results-Original: mx.example.org; none", 0 },
		{ "X-Authentication-Results: mx.example.org; none", 0 },
		{ "Authentication-Results: ", 0 },
		{ "Authentication-Results: (unclosed mx.example.org", 0 },
		{ "Authentication-Results: \"mx.example.org", 0 },
	};
	size_t	 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECKF(authres_is_ours(cases[i].field, strlen(cases[i].field),
		    "mx.example.org") == cases[i].ours, "%s", cases[i].field);
}

static void
test_received_spf(void)
{
	struct received_spf	 r;
	char			 buf[512];
	int			 n;

	memset(&r, 0, sizeof(r));
	r.result = "pass";
	r.receiver = "mx.example.org";
	r.ip = "192.0.2.1";
	r.sender = "alice@example.net";
	r.helo = "mail.example.net";
	n = received_spf_field(&r, buf, sizeof(buf));
	CHECKF(n > 0 && (size_t)n == strlen(buf) && strcmp(buf,
	    "Received-SPF: pass (mx.example.org: domain of alice@example.net "
	    "designates 192.0.2.1 as permitted sender)\r\n"
	    "\tclient-ip=192.0.2.1; envelope-from=\"alice@example.net\";\r\n"
	    "\thelo=mail.example.net; receiver=mx.example.org; "
	    "identity=mailfrom\r\n") == 0, "%s", buf);

	/* Wire text cannot close the comment or the quotes early. */
	r.result = "permerror";
	r.sender = "a)b\"c@example.net";
	r.helo = "(x";
	r.problem = "bad mechanism \"foo\"";
	r.helo_identity = 1;
	n = received_spf_field(&r, buf, sizeof(buf));
	CHECKF(n > 0 && strstr(buf, "permanent error in processing the "
	    "domain of a\\)b\"c@example.net)") != NULL &&
	    strstr(buf, "envelope-from=\"a)b\\\"c@example.net\";") != NULL &&
	    strstr(buf, "helo=\"(x\";") != NULL &&
	    strstr(buf, "identity=helo;") != NULL &&
	    strstr(buf, "problem=\"bad mechanism \\\"foo\\\"\"\r\n") !=
	    NULL, "%s", buf);
	CHECK(received_spf_field(&r, buf, 40) == -1);
}

int
main(void)
{
	test_build();
	test_ours();
	test_received_spf();
	return unit_done("test_authres");
}
