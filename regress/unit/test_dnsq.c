/*
 * test_dnsq: lib/dnsq.c turns wire-format rdata (what libunbound hands
 * back) into answers the evaluators read, refuses malformed rdata, and
 * keeps an answer within its bounds; lib/dnsq_unbound.c maps a
 * ub_result (made up here, as the resolver would fill it) and escapes
 * query names.
 */

#include <arpa/inet.h>

#include <string.h>

#include "dnsq.h"
#include "dnsq_unbound.h"
#include "unit.h"

static struct dnsq_answer	 a;

static void
test_rdata(void)
{
	static const unsigned char	 txt[] = "\006v=spf1\005 -all";
	static const unsigned char	 mx[] = "\000\012\004mail\007example"
					    "\003org";
	static const unsigned char	 ptr[] = "\004Host\004TEST";
	static const unsigned char	 v4[] = { 192, 0, 2, 1 };
	static const unsigned char	 v6[16] = { 0x20, 0x01, 0x0d, 0xb8,
					    [15] = 1 };
	struct in_addr			 in;

	dnsq_answer_init(&a, DNSQ_NOERROR);
	CHECK(dnsq_answer_add_rdata(&a, DNSQ_TXT, txt, sizeof(txt) - 1) == 0);
	/* The strings of one record are joined (RFC 7208 3.3). */
	CHECK(a.nrr == 1 && a.rr[0].len == 11 &&
	    strcmp(dnsq_rr_text(&a, &a.rr[0]), "v=spf1 -all") == 0);
	/* The literal's NUL is the root label. */
	CHECK(dnsq_answer_add_rdata(&a, DNSQ_MX, mx, sizeof(mx)) == 0);
	CHECK(a.rr[1].pref == 10 &&
	    strcmp(dnsq_rr_text(&a, &a.rr[1]), "mail.example.org") == 0);
	CHECK(dnsq_answer_add_rdata(&a, DNSQ_PTR, ptr, sizeof(ptr)) == 0);
	CHECK(strcmp(dnsq_rr_text(&a, &a.rr[2]), "host.test") == 0);
	CHECK(dnsq_answer_add_rdata(&a, DNSQ_A, v4, 4) == 0);
	inet_pton(AF_INET, "192.0.2.1", &in);
	CHECK(a.rr[3].a.s_addr == in.s_addr);
	CHECK(dnsq_answer_add_rdata(&a, DNSQ_AAAA, v6, 16) == 0 &&
	    a.rr[4].aaaa.s6_addr[15] == 1);
	CHECK(a.nrr == 5 && !a.truncated);

	/* Malformed: short, overlong labels, pointers, a NUL in TXT. */
	CHECK(dnsq_answer_add_rdata(&a, DNSQ_A, v4, 3) == -1);
	CHECK(dnsq_answer_add_rdata(&a, DNSQ_AAAA, v6, 15) == -1);
	CHECK(dnsq_answer_add_rdata(&a, DNSQ_TXT, "\010abc", 4) == -1);
	CHECK(dnsq_answer_add_rdata(&a, DNSQ_TXT, "\003a\000c", 4) == -1);
	CHECK(dnsq_answer_add_rdata(&a, DNSQ_PTR, "\300\014", 2) == -1);
	CHECK(dnsq_answer_add_rdata(&a, DNSQ_PTR, "\003a.b\000", 5) == -1);
	CHECK(dnsq_answer_add_rdata(&a, DNSQ_PTR, "\001a", 2) == -1);
	CHECK(dnsq_answer_add_rdata(&a, DNSQ_MX, "\000\001", 2) == -1);
	CHECK(dnsq_answer_add_rdata(&a, DNSQ_PTR, "\001a\000x", 4) == -1);
	CHECK(dnsq_answer_add_rdata(&a, 99, "x", 1) == -1);
	CHECK(a.nrr == 5);
}

static void
test_bounds(void)
{
	char	 big[4000];
	size_t	 i;

	memset(big, 'x', sizeof(big));
	dnsq_answer_init(&a, DNSQ_NOERROR);
	for (i = 0; i < 10; i++)
		dnsq_answer_add_txt(&a, big, sizeof(big));
	CHECK(a.truncated && a.nrr == DNSQ_DATA_MAX / (sizeof(big) + 1));
	CHECK(a.datalen <= DNSQ_DATA_MAX);
	dnsq_answer_init(&a, DNSQ_NOERROR);
	for (i = 0; i < DNSQ_RR_MAX + 5; i++)
		dnsq_answer_add_name(&a, DNSQ_PTR, 0, "a.test.");
	CHECK(a.truncated && a.nrr == DNSQ_RR_MAX);
	CHECK(strcmp(dnsq_rr_text(&a, &a.rr[0]), "a.test") == 0);
}

static void
test_query(void)
{
	struct dnsq_query	 q;

	dnsq_query_set(&q, "example.org.", DNSQ_MX);
	CHECK(strcmp(q.name, "example.org") == 0 && q.type == DNSQ_MX);
	CHECK(strcmp(dnsq_type_name(DNSQ_AAAA), "AAAA") == 0);
}

static void
test_unbound(void)
{
	static char		 txt1[] = "\006v=spf1\005 -all";
	static char		 txt2[] = "\003bad\001";	/* short */
	char			*data[] = { txt1, txt2, NULL };
	int			 len[] = { 13, 5, 0 };
	struct ub_result	 res;
	char			 out[64];

	memset(&res, 0, sizeof(res));
	res.data = data;
	res.len = len;
	res.havedata = 1;
	dnsq_answer_from_ub(&a, DNSQ_TXT, 0, &res);
	CHECK(a.rcode == DNSQ_NOERROR && a.nrr == 1 &&
	    strcmp(dnsq_rr_text(&a, &a.rr[0]), "v=spf1 -all") == 0);
	res.nxdomain = 1;
	dnsq_answer_from_ub(&a, DNSQ_TXT, 0, &res);
	CHECK(a.rcode == DNSQ_NXDOMAIN && a.nrr == 0);
	res.nxdomain = 0;
	res.rcode = 2;
	dnsq_answer_from_ub(&a, DNSQ_TXT, 0, &res);
	CHECK(a.rcode == DNSQ_SERVFAIL);
	res.rcode = 0;
	res.bogus = 1;
	dnsq_answer_from_ub(&a, DNSQ_TXT, 0, &res);
	CHECK(a.rcode == DNSQ_SERVFAIL);
	dnsq_answer_from_ub(&a, DNSQ_TXT, UB_SERVFAIL, NULL);
	CHECK(a.rcode == DNSQ_SERVFAIL);

	CHECK(dnsq_name_escape("a-b_c.example.org", out, sizeof(out)) == 0 &&
	    strcmp(out, "a-b_c.example.org") == 0);
	CHECK(dnsq_name_escape("macro%percent  space.test", out,
	    sizeof(out)) == 0 &&
	    strcmp(out, "macro\\037percent\\032\\032space.test") == 0);
	CHECK(dnsq_name_escape("a\"b", out, 5) == -1);
}

int
main(void)
{
	test_rdata();
	test_bounds();
	test_query();
	test_unbound();
	return unit_done("test_dnsq");
}
