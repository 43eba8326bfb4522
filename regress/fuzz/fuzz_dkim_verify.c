/*
 * fuzz_dkim_verify: libFuzzer target for lib/dkim_verify.c on a whole
 * message: the header split, each DKIM-Signature's parse, the b=
 * removal, both canonicalizations with l=, and the key handling.  Key
 * questions are answered with the input's last line when it looks like
 * a key record, else with a fixed Ed25519 key.  The first byte chooses
 * the chunk size, so the stream is cut at many places.
 *
 *   make regress/fuzz/fuzz_dkim_verify
 *   ./regress/fuzz/fuzz_dkim_verify -max_total_time=60
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dkim_verify.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct dnsq_answer	 ans;

static const char	 fixed_key[] = "v=DKIM1; k=ed25519; "
			    "p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dkim_verify		*v;
	const struct dkim_result	*r;
	struct dnsq_query		 q;
	const char			*msg, *last;
	size_t				 chunk, off, n, i, len, klen;
	int				 st, steps = 0;

	if (size < 1 || size > 256 * 1024)
		return 0;
	chunk = data[0] + 1;
	msg = (const char *)data + 1;
	len = size - 1;
	if ((v = dkim_verify_new()) == NULL)
		return 0;
	dkim_verify_set_time(v, 1700000000);
	for (off = 0; off < len; off += n) {
		n = len - off < chunk ? len - off : chunk;
		dkim_verify_update(v, msg + off, n);
	}
	dkim_verify_final(v);
	last = memrchr(msg, '\n', len);
	last = last == NULL ? msg : last + 1;
	klen = len - (last - msg);
	st = dkim_verify_step(v, NULL, &q);
	while (st == DKIM_STEP_DNS) {
		if (++steps > DKIM_VERIFY_SIGS_MAX)
			abort();
		dnsq_answer_init(&ans, DNSQ_NOERROR);
		if (klen > 2 && last[0] == 'v' && last[1] == '=' &&
		    memchr(last, '\0', klen) == NULL)
			dnsq_answer_add_txt(&ans, last, klen);
		else
			dnsq_answer_add_txt(&ans, fixed_key,
			    sizeof(fixed_key) - 1);
		st = dkim_verify_step(v, &ans, &q);
	}
	if (st != DKIM_STEP_DONE ||
	    dkim_verify_count(v) > DKIM_VERIFY_SIGS_MAX)
		abort();
	for (i = 0; i < dkim_verify_count(v); i++) {
		r = dkim_verify_result(v, i);
		if (r->result < DKIM_NONE || r->result > DKIM_PERMERROR ||
		    strlen(r->reason) >= sizeof(r->reason))
			abort();
	}
	dkim_verify_free(v);
	return 0;
}
