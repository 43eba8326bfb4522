/*
 * fuzz_milter: libFuzzer target for the milter reply parser of
 * lib/milter.c.  The input is a stream of milter packets as a milter
 * would send them; each framed packet is parsed, and whatever parses
 * must hold the promises of milter.h (strings inside the packet and
 * NUL-terminated, reply codes 4xx or 5xx).
 *
 *   make fuzz && ./regress/fuzz/fuzz_milter -max_total_time=60
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "milter.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
inside(const void *p, const uint8_t *data, size_t len)
{
	const uint8_t	*q = p;

	if (q < data || q >= data + len || memchr(q, '\0',
	    len - (q - data)) == NULL)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *buf, size_t size)
{
	struct milter_reply	 r;
	const uint8_t		*data;
	size_t			 dlen, used;
	char			 cmd, err[128];

	while (milter_frame(buf, size, 4096, &cmd, &data, &dlen, &used) == 1) {
		if (milter_parse_reply(cmd, data, dlen, &r, err,
		    sizeof(err)) == 0) {
			if (r.name != NULL)
				inside(r.name, data, dlen);
			if (r.addr != NULL)
				inside(r.addr, data, dlen);
			if (r.cmd == SMFIR_REPLYCODE) {
				inside(r.text, data, dlen);
				if (r.code < 400 || r.code > 599)
					abort();
			}
			if (r.body != NULL && r.body + r.bodylen >
			    data + dlen)
				abort();
		} else if (strlen(err) == 0)
			abort();
		buf += used;
		size -= used;
	}
	return 0;
}
