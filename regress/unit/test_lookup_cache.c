/*
 * Unit tests for smtpd/smtp_lookup_cache.c, the lookup process's kept
 * answers: found again by type and name in any case, with the records
 * and text as stored; a server failure or a TTL of 0 is never kept; an
 * answer goes once its TTL has passed; a newer answer replaces one.
 */

#include <sys/types.h>

#include <netinet/in.h>

#include <string.h>
#include <time.h>

#include "dnsq.h"
#include "../../smtpd/smtpd.h"
#include "unit.h"

static struct dnsq_answer	 a, got;

static void
txt_answer(const char *text)
{
	dnsq_answer_init(&a, DNSQ_NOERROR);
	a.nrr = 1;
	a.rr[0].type = DNSQ_TXT;
	a.rr[0].off = 0;
	a.rr[0].len = strlen(text);
	memcpy(a.data, text, a.rr[0].len);
	a.datalen = a.rr[0].len;
}

static void
test_kept(void)
{
	txt_answer("v=spf1 -all");
	lookup_cache_put(DNSQ_TXT, "Example.TEST", &a, 300);
	CHECK(lookup_cache_get(DNSQ_TXT, "example.test", &got) == 0);
	CHECK(got.rcode == DNSQ_NOERROR && got.nrr == 1);
	CHECK(got.rr[0].type == DNSQ_TXT && got.rr[0].len == 11);
	CHECK(got.datalen == 11 && memcmp(got.data, "v=spf1 -all", 11) == 0);
	CHECK(lookup_cache_get(DNSQ_TXT, "EXAMPLE.test", &got) == 0);
	/* Another type, another name. */
	CHECK(lookup_cache_get(DNSQ_A, "example.test", &got) == -1);
	CHECK(lookup_cache_get(DNSQ_TXT, "example.tes", &got) == -1);
	/* A newer answer for the same question replaces it. */
	txt_answer("v=spf1 ~all");
	lookup_cache_put(DNSQ_TXT, "example.test", &a, 300);
	CHECK(lookup_cache_get(DNSQ_TXT, "example.test", &got) == 0);
	CHECK(got.datalen == 11 && memcmp(got.data, "v=spf1 ~all", 11) == 0);
	/* No such name is an answer too. */
	dnsq_answer_init(&a, DNSQ_NXDOMAIN);
	lookup_cache_put(DNSQ_TXT, "_dmarc.example.test", &a, 60);
	CHECK(lookup_cache_get(DNSQ_TXT, "_dmarc.example.test", &got) == 0);
	CHECK(got.rcode == DNSQ_NXDOMAIN && got.nrr == 0);
}

static void
test_not_kept(void)
{
	dnsq_answer_init(&a, DNSQ_SERVFAIL);
	lookup_cache_put(DNSQ_TXT, "fail.test", &a, 300);
	CHECK(lookup_cache_get(DNSQ_TXT, "fail.test", &got) == -1);
	txt_answer("v=spf1 -all");
	lookup_cache_put(DNSQ_TXT, "zero.test", &a, 0);
	CHECK(lookup_cache_get(DNSQ_TXT, "zero.test", &got) == -1);
}

static void
test_expiry(void)
{
	time_t	 deadline = time(NULL) + 5;

	txt_answer("v=spf1 -all");
	lookup_cache_put(DNSQ_TXT, "short.test", &a, 1);
	CHECK(lookup_cache_get(DNSQ_TXT, "short.test", &got) == 0);
	/* Gone within a second or two, however the clock ticks. */
	while (lookup_cache_get(DNSQ_TXT, "short.test", &got) == 0 &&
	    time(NULL) < deadline) {
		struct timespec	 ts = { 0, 50 * 1000 * 1000 };

		nanosleep(&ts, NULL);
	}
	CHECK(lookup_cache_get(DNSQ_TXT, "short.test", &got) == -1);
}

int
main(void)
{
	test_kept();
	test_not_kept();
	test_expiry();
	return unit_done("test_lookup_cache");
}
