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
	size_t	 i;

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
	fputc('"', f);
	for (i = 0; i < len; i++) {
		if (p[i] == '"' || p[i] == '\\')
			fputc('\\', f);
		fputc(p[i], f);
	}
	fputc('"', f);
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
