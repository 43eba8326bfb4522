/*
 * fuzz_addr: libFuzzer target for lib/addr.c.  The first input byte picks
 * the flags, the rest is the path.  Whatever parses must format and
 * parse back to the same address.
 *
 * Build and run from the top of the tree:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -std=gnu11 \
 *       -D_GNU_SOURCE -Ilib -isystem /usr/include/bsd -DLIBBSD_OVERLAY \
 *       -o regress/fuzz/fuzz_addr regress/fuzz/fuzz_addr.c lib/addr.c
 *   ./regress/fuzz/fuzz_addr -max_total_time=60
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mailaddr	 a, b;
	char		 s[1024], out[512];
	const char	*rest;
	int		 flags;

	if (size < 1 || size > sizeof(s))
		return 0;
	flags = data[0] & (ADDR_ALLOW_NULL | ADDR_ALLOW_UTF8 |
	    ADDR_ALLOW_NOBRACKET);
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';

	if (addr_parse_path(s, &a, flags, &rest) == 0) {
		if (rest < s || rest > s + strlen(s))
			abort();
		addr_format(&a, out, sizeof(out));
		if (addr_parse(out, &b, flags | ADDR_ALLOW_NULL) == -1 ||
		    strcmp(a.local, b.local) != 0 ||
		    strcmp(a.domain, b.domain) != 0)
			abort();
	}
	if (addr_parse(s, &a, flags) == 0) {
		addr_format(&a, out, sizeof(out));
		if (addr_parse(out, &b, flags | ADDR_ALLOW_NULL) == -1 ||
		    strcmp(a.local, b.local) != 0 ||
		    strcmp(a.domain, b.domain) != 0)
			abort();
	}
	addr_lower(s);
	return 0;
}
