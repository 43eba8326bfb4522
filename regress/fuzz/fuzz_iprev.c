/*
 * fuzz_iprev: libFuzzer target for FCrDNS (lib/iprev.c).  The input is
 * the rdata of the PTR answer, as wire-form names (dnsq_answer_add_rdata,
 * so the decoding of names from the network is fuzzed too), then one
 * byte per forward question choosing its answer; the state machine must
 * end within its limits, its names NUL-terminated host names.
 *
 *   make fuzz && ./regress/fuzz/fuzz_iprev -max_total_time=60
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "iprev.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct dnsq_answer	 ans;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_storage	 ss;
	struct iprev		 ip;
	struct dnsq_query	 q;
	const struct dnsq_answer *a = NULL;
	size_t			 half = size / 2, i, k = half, steps = 0;
	uint8_t			 c;

	memset(&ss, 0, sizeof(ss));
	ss.ss_family = size > 0 && (data[0] & 1) ? AF_INET6 : AF_INET;
	if (ss.ss_family == AF_INET)
		inet_pton(AF_INET, "192.0.2.1",
		    &((struct sockaddr_in *)&ss)->sin_addr);
	else
		inet_pton(AF_INET6, "2001:db8::1",
		    &((struct sockaddr_in6 *)&ss)->sin6_addr);
	if (iprev_start(&ip, &ss) == -1)
		abort();
	while (iprev_step(&ip, a, &q) == IPREV_STEP_DNS) {
		if (++steps > 1 + IPREV_NAMES_MAX)
			abort();
		dnsq_answer_init(&ans, DNSQ_NOERROR);
		if (q.type == DNSQ_PTR) {
			/* Names of up to 64 bytes each from the first half. */
			for (i = 0; i < half; i += 64)
				(void)dnsq_answer_add_rdata(&ans, DNSQ_PTR,
				    data + i, half - i < 64 ? half - i : 64);
		} else {
			c = k < size ? data[k++] : 0;
			if (c % 5 == 4)
				dnsq_answer_init(&ans, DNSQ_SERVFAIL);
			else if (c % 5 == 3)
				(void)dnsq_answer_add_a(&ans,
				    &((struct sockaddr_in *)&ss)->sin_addr);
			else if (c % 5 == 2)
				(void)dnsq_answer_add_aaaa(&ans,
				    &((struct sockaddr_in6 *)&ss)->sin6_addr);
		}
		a = &ans;
	}
	if (strlen(iprev_name(&ip)) >= DNSQ_NAME_MAX ||
	    iprev_result(&ip) < IPREV_PASS ||
	    iprev_result(&ip) > IPREV_PERMERROR)
		abort();
	return 0;
}
