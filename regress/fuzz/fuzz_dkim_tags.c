/*
 * fuzz_dkim_tags: libFuzzer target for lib/dkim_tags.c, the tag-list
 * parser and the DKIM-Signature and key record parsers on top of it.
 * Every tag must lie inside the input, names and values must not
 * contain their separators, and what the signature parser keeps must be
 * within its bounds.
 *
 *   make regress/fuzz/fuzz_dkim_tags
 *   ./regress/fuzz/fuzz_dkim_tags -max_total_time=60
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dkim_verify.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct dkim_sig		 sig;
static struct dkim_pubkey	 key;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*p = (const char *)data;
	struct dkim_tag	 tags[DKIM_TAGS_MAX];
	char		 err[96];
	size_t		 n, i;

	if (dkim_taglist_parse(p, size, tags, DKIM_TAGS_MAX, &n) == 0) {
		if (n > DKIM_TAGS_MAX)
			abort();
		for (i = 0; i < n; i++) {
			if (tags[i].name < p || tags[i].name +
			    tags[i].namelen > p + size ||
			    tags[i].value < p || tags[i].value +
			    tags[i].valuelen > p + size ||
			    tags[i].rawoff + tags[i].rawlen > size ||
			    tags[i].namelen == 0)
				abort();
			if (memchr(tags[i].value, ';', tags[i].valuelen) ||
			    memchr(tags[i].name, '=', tags[i].namelen))
				abort();
		}
	}
	if (dkim_sig_parse(&sig, p, size, err, sizeof(err)) == 0) {
		if (sig.blen == 0 || sig.blen > sizeof(sig.b) ||
		    sig.bhlen != 32 || sig.nhnames == 0 ||
		    sig.nhnames > DKIM_HNAMES_MAX ||
		    sig.braw + sig.brawlen > size ||
		    strlen(sig.d) == 0 || strlen(sig.s) == 0 ||
		    strchr(sig.i, '@') == NULL)
			abort();
		if (sig.alg != DKIM_ALG_RSA_SHA256 &&
		    sig.alg != DKIM_ALG_ED25519_SHA256)
			abort();
	}
	if (dkim_key_parse(&key, p, size, err, sizeof(err)) == 0)
		if (key.plen > sizeof(key.p) || key.revoked != (key.plen == 0))
			abort();
	return 0;
}
