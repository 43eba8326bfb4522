/*
 * fuzz_dmarc: libFuzzer target for lib/dmarc.c's record parser, an
 * evaluation whose policy answers are the input, so that the lookup's
 * fallback to the organisational domain sees hostile records, and
 * lib/author.c's From parser on the input as a From value.
 *
 *   make regress/fuzz/fuzz_dmarc
 *   ./regress/fuzz/fuzz_dmarc -max_total_time=60
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "author.h"
#include "dmarc.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct dnsq_answer	 ans;

static uint32_t
counter(void *arg)
{
	return (*(uint32_t *)arg)++;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dmarc_record	 r;
	struct dmarc		*d;
	struct dnsq_query	 q;
	char			 err[64];
	uint32_t		 rnd = 0;
	int			 st, n = 0;

	if (size > DNSQ_DATA_MAX - 1)
		return 0;
	if (dmarc_record_parse(&r, (const char *)data, size, err,
	    sizeof(err)) == 0) {
		if (r.p < DMARC_P_NONE || r.p > DMARC_P_REJECT ||
		    r.sp < DMARC_P_NONE || r.sp > DMARC_P_REJECT ||
		    r.pct < 0 || r.pct > 100 ||
		    (r.adkim != 'r' && r.adkim != 's') ||
		    (r.aspf != 'r' && r.aspf != 's') ||
		    strlen(r.rua) >= sizeof(r.rua))
			abort();
	}
	{
		char	 dom[256];
		size_t	 i;

		if (author_domain((const char *)data, size, dom,
		    sizeof(dom)) == AUTHOR_OK) {
			if (dom[0] == '\0' || strchr(dom, '.') == NULL)
				abort();
			for (i = 0; dom[i] != '\0'; i++)
				if (dom[i] >= 'A' && dom[i] <= 'Z')
					abort();
		}
	}
	if ((d = dmarc_new(NULL)) == NULL)
		return 0;
	dmarc_set_random(d, counter, &rnd);
	dmarc_start(d, "mail.example.org");
	dmarc_set_spf(d, size % 2, "bounce.example.org");
	dmarc_add_dkim(d, size % 3 == 0, "example.org");
	st = dmarc_step(d, NULL, &q);
	while (st == DMARC_STEP_DNS) {
		if (++n > 2)
			abort();
		dnsq_answer_init(&ans, DNSQ_NOERROR);
		dnsq_answer_add_txt(&ans, (const char *)data, size);
		st = dmarc_step(d, &ans, &q);
	}
	if (dmarc_policy(d) < DMARC_P_NONE || dmarc_policy(d) > DMARC_P_REJECT)
		abort();
	if (dmarc_result(d) == DMARC_PASS && dmarc_policy(d) != DMARC_P_NONE)
		abort();
	dmarc_free(d);
	return 0;
}
