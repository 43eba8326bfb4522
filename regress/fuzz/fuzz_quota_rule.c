/*
 * fuzz_quota_rule: libFuzzer target for lib/quota_rule.c, the quota of
 * a users table entry.  The input is both a rule and a line of extra
 * fields; whatever parses is at most QUOTA_RULE_MAX, and a rule that
 * parses alone parses the same as the value of quota_rule=.
 *
 *   make fuzz; ./regress/fuzz/fuzz_quota_rule -max_total_time=60
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quota_rule.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		 s[512], extra[600];
	uint64_t	 a, b;
	int		 r;

	if (size >= sizeof(s) || memchr(data, '\0', size) != NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (quota_rule_parse(s, &a) == 0) {
		if (a > QUOTA_RULE_MAX)
			abort();
		if (strpbrk(s, " \t") == NULL && size < 100) {
			snprintf(extra, sizeof(extra), "k=v quota_rule=%s", s);
			if (quota_rule_extra(extra, &b) != 1 || b != a)
				abort();
		}
	}
	r = quota_rule_extra(s, &b);
	if (r < -1 || r > 1 || (r == 1 && b > QUOTA_RULE_MAX))
		abort();
	return 0;
}
