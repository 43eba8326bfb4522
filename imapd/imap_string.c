/*
 * IMAP strings out: the quoted string, or the literal when it holds
 * what quotes cannot carry, that a reply writes for a name or a text.
 */

#include <sys/types.h>

#include <stdio.h>

#include "imapd.h"
#include "imap_string.h"

void
imap_string(FILE *f, const char *p, size_t len, int flags)
{
	size_t	 i, j;

	for (i = 0; i < len && !(flags & IMAP_STR_LITERAL); i++)
		if (p[i] == '\r' || p[i] == '\n' || p[i] == '\0' ||
		    (!(flags & IMAP_STR_UTF8) && (unsigned char)p[i] >= 0x80) ||
		    ((flags & IMAP_STR_NOESCAPE) && (p[i] == '"' ||
		    p[i] == '\\')))
			flags |= IMAP_STR_LITERAL;
	if (flags & IMAP_STR_LITERAL) {
		fprintf(f, "{%zu}\r\n", len);
		fwrite(p, 1, len, f);
		return;
	}
	/* In runs: a character at a time was a fifth of a cold FETCH. */
	putc_unlocked('"', f);
	for (i = 0; i < len; i = j) {
		for (j = i; j < len && p[j] != '"' && p[j] != '\\'; j++)
			;
		fwrite(p + i, 1, j - i, f);
		if (j < len) {
			putc_unlocked('\\', f);
			putc_unlocked(p[j++], f);
		}
	}
	putc_unlocked('"', f);
}

void
imap_quoted(FILE *f, const char *p, size_t len)
{
	imap_string(f, p, len, 0);
}

void
imap_quoted_utf8(FILE *f, const char *p, size_t len)
{
	imap_string(f, p, len, IMAP_STR_UTF8);
}
