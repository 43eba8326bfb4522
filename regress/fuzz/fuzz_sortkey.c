/*
 * fuzz_sortkey: libFuzzer target for what SORT and THREAD read from a
 * message's header: the base subject (imapd/imap_basesubj.c) and the
 * Date: field (imapd/imap_msgdate.c).  Besides crashes it checks what
 * they promise: a base subject has no blank at either end nor two in a
 * row, a reply marker is said only when something went, and a date
 * read is a real calendar date.
 *
 *   make regress/fuzz/fuzz_sortkey
 *   ./regress/fuzz/fuzz_sortkey -max_total_time=60 -max_len=4096
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../imapd/imap_sortkey.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
fuzz_subject(const char *s, size_t n)
{
	char	*b, *again;
	size_t	 len;
	int	 refwd, r2;

	if ((b = imap_basesubj(s, n, &refwd)) == NULL)
		return;
	len = strlen(b);
	if (len > 0 && (b[0] == ' ' || b[len - 1] == ' '))
		abort();
	if (strstr(b, "  ") != NULL || strchr(b, '\t') != NULL)
		abort();
	/* Nothing to take from a plain ASCII base subject: the same. */
	if (strstr(b, "=?") == NULL && (again = imap_basesubj(b, len,
	    &r2)) != NULL) {
		if (strcmp(again, b) != 0 || r2)
			abort();
		free(again);
	}
	free(b);
}

static void
fuzz_date(const char *s)
{
	time_t	 t;
	int	 ymd, m, d;

	if (imap_msgdate(s, &t, &ymd) == -1)
		return;
	m = ymd / 100 % 100;
	d = ymd % 100;
	if (ymd / 10000 < 1900 || m < 1 || m > 12 || d < 1 || d > 31)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*s;

	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	fuzz_subject(s, size);
	fuzz_date(s);
	free(s);
	return 0;
}
