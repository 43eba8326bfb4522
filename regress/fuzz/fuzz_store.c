/*
 * fuzz_store: libFuzzer target for the parsers of the mailbox files
 * imapd reads from a Maildir (dovecot-uidlist, dovecot-keywords,
 * subscriptions): the input is given, unterminated, to each.  Besides
 * crashes it checks what they promise: a parsed uidlist has UIDs in
 * ascending order below the next UID, and written back and read again
 * it is the same list; keywords and subscriptions written back read
 * the same.
 *
 * Build and run from the top of the tree:
 *   make regress/fuzz/fuzz_store
 *   ./regress/fuzz/fuzz_store -max_total_time=60 -max_len=4096
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keywords.h"
#include "subscriptions.h"
#include "uidlist.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
fuzz_uidlist(const char *data, size_t size)
{
	struct uidlist	 a, b;
	char		*out;
	size_t		 len, i;

	uidlist_init(&a);
	uidlist_init(&b);
	if (uidlist_parse(&a, data, size) == -1)
		return;
	for (i = 0; i < a.nrecs; i++) {
		if (i > 0 && a.recs[i]->uid <= a.recs[i - 1]->uid)
			abort();
		if (a.recs[i]->uid >= a.nextuid)
			abort();
	}
	if (uidlist_format(&a, &out, &len) == -1)
		abort();
	/* A uidvalidity of 0 or fields we drop may not read back. */
	if (uidlist_parse(&b, out, len) == 0) {
		if (b.nrecs != a.nrecs || b.uidvalidity != a.uidvalidity ||
		    b.nextuid != a.nextuid)
			abort();
		for (i = 0; i < a.nrecs; i++)
			if (a.recs[i]->uid != b.recs[i]->uid ||
			    strcmp(a.recs[i]->name, b.recs[i]->name) != 0)
				abort();
	}
	free(out);
	uidlist_clear(&a);
	uidlist_clear(&b);
}

static void
fuzz_keywords(const char *data, size_t size)
{
	struct keywords	 a, b;
	char		 out[KEYWORDS_MAX * (KEYWORD_LEN_MAX + 8)];
	int		 len, i;

	keywords_init(&a);
	keywords_init(&b);
	if (keywords_parse(&a, data, size) == -1)
		return;
	if ((len = keywords_format(&a, out, sizeof(out))) == -1)
		abort();
	if (keywords_parse(&b, out, len) == -1)
		abort();
	for (i = 0; i < KEYWORDS_MAX; i++)
		if ((a.name[i] == NULL) != (b.name[i] == NULL) ||
		    (a.name[i] != NULL && strcmp(a.name[i], b.name[i]) != 0))
			abort();
	keywords_clear(&a);
	keywords_clear(&b);
}

static void
fuzz_subs(const char *data, size_t size)
{
	struct subscriptions	 a, b;
	char			*out;
	size_t			 len, i;

	subs_init(&a);
	subs_init(&b);
	if (subs_parse(&a, data, size) == -1)
		return;
	if (subs_format(&a, &out, &len) == -1)
		abort();
	if (subs_parse(&b, out, len) == -1)
		abort();
	for (i = 0; i < a.n; i++)
		if (!subs_has(&b, a.name[i]))
			abort();
	free(out);
	subs_clear(&a);
	subs_clear(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*copy;

	/* An exact-size copy: a read past the end is caught. */
	if ((copy = malloc(size > 0 ? size : 1)) == NULL)
		return 0;
	memcpy(copy, data, size);
	fuzz_uidlist(copy, size);
	fuzz_keywords(copy, size);
	fuzz_subs(copy, size);
	free(copy);
	return 0;
}
