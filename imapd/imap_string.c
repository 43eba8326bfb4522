/*
 * IMAP strings out: the quoted string, or the literal when it holds
 * what quotes cannot carry, that a reply writes for a name or a text.
 */

#include <sys/types.h>

#include <stdio.h>

#include "imapd.h"

/*
 * A quoted string, or a literal when it holds what quotes cannot: CR,
 * LF, NUL and, unless utf8 (IMAP4rev2, UTF8=ACCEPT), 8-bit bytes.
 */
static void
write_quoted(FILE *f, const char *p, size_t len, int utf8)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if (p[i] == '\r' || p[i] == '\n' || p[i] == '\0' ||
		    (!utf8 && (unsigned char)p[i] >= 0x80))
			break;
	if (i < len) {
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
	write_quoted(f, p, len, 0);
}

void
imap_quoted_utf8(FILE *f, const char *p, size_t len)
{
	write_quoted(f, p, len, 1);
}
