/*
 * imap_string.c's one writer of IMAP strings, for the replies and for
 * mime_write.c (which links without the rest of imapd.h).
 */

#ifndef TSAMBA_IMAP_STRING_H
#define TSAMBA_IMAP_STRING_H

#include <stddef.h>
#include <stdio.h>

#define IMAP_STR_UTF8		0x01	/* 8-bit bytes may be quoted */
#define IMAP_STR_NOESCAPE	0x02	/* '"' and '\\' make a literal */
#define IMAP_STR_LITERAL	0x04	/* a literal always */

/*
 * A quoted string, or a literal when it holds what quotes cannot: CR,
 * LF, NUL, and what flags add.
 */
void	imap_string(FILE *, const char *, size_t, int flags);

#endif
