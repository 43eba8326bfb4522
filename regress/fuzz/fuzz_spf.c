/*
 * fuzz_spf: libFuzzer target for lib/spf.c.  The input is an SPF record:
 * it is parsed on its own (offsets must stay inside the text), then a
 * whole check runs with every TXT answer being the input, every address
 * answer 192.0.2.1 and every MX/PTR answer a few names, so that the
 * evaluator's include/redirect/macro paths see hostile records.  The
 * check must end within a bounded number of questions.
 *
 *   make regress/fuzz/fuzz_spf
 *   ./regress/fuzz/fuzz_spf -max_total_time=60
 */

#include <arpa/inet.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spf.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct spf_record	 rec;
static struct dnsq_answer	 ans;

static void
answer(const struct dnsq_query *q, const uint8_t *data, size_t size,
    int n)
{
	struct in_addr	 in;
	struct in6_addr	 in6;

	dnsq_answer_init(&ans, DNSQ_NOERROR);
	/* Every seventh question fails, to reach the error paths. */
	if (n % 7 == 6) {
		dnsq_answer_init(&ans, n % 2 ? DNSQ_NXDOMAIN : DNSQ_SERVFAIL);
		return;
	}
	switch (q->type) {
	case DNSQ_TXT:
		dnsq_answer_add_txt(&ans, (const char *)data, size);
		break;
	case DNSQ_A:
		inet_pton(AF_INET, "192.0.2.1", &in);
		dnsq_answer_add_a(&ans, &in);
		break;
	case DNSQ_AAAA:
		inet_pton(AF_INET6, "2001:db8::1", &in6);
		dnsq_answer_add_aaaa(&ans, &in6);
		break;
	case DNSQ_MX:
	case DNSQ_PTR:
		dnsq_answer_add_name(&ans, q->type, 10, "a.example.org");
		dnsq_answer_add_name(&ans, q->type, 20, q->name);
		break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dnsq_query	 q;
	struct spf		*s;
	char			 err[128], out[512];
	size_t			 i;
	int			 r, n = 0;

	if (size > SPF_RECORD_MAX)
		return 0;
	if (spf_record_parse(&rec, (const char *)data, size, err,
	    sizeof(err)) == 0) {
		if (rec.nterms > SPF_TERMS_MAX)
			abort();
		for (i = 0; i < rec.nterms; i++)
			if (rec.terms[i].spec + rec.terms[i].speclen > size)
				abort();
		if (rec.redirect + rec.redirectlen > size ||
		    rec.exp + rec.explen > size)
			abort();
	}
	if ((s = spf_new()) == NULL)
		return 0;
	spf_start(s, SPF_MAILFROM, size % 2 ? "192.0.2.1" : "2001:db8::1",
	    "helo.example.org", "user.name@example.org");
	/* The input as a macro-string too (explanation rules). */
	r = spf_macro_expand(s, (const char *)data, size, 1, out,
	    sizeof(out));
	if (r == 0 && strlen(out) >= sizeof(out))
		abort();
	r = spf_step(s, NULL, &q);
	while (r == SPF_STEP_DNS) {
		if (++n > 400 || (q.name[0] == '\0' && q.type != DNSQ_TXT))
			abort();
		answer(&q, data, size, n);
		r = spf_step(s, &ans, &q);
	}
	if (spf_result(s) < SPF_NONE || spf_result(s) > SPF_PERMERROR)
		abort();
	spf_free(s);
	return 0;
}
