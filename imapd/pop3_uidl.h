/*
 * POP3 UIDL values as Dovecot 2.3 gives them for a Maildir message.
 */

#ifndef TSAMBA_POP3_UIDL_H
#define TSAMBA_POP3_UIDL_H

#include <stddef.h>

#include "uidlist.h"

/* Room for the longest UIDL (RFC 1939: at most 70 characters). */
#define POP3_UIDL_MAX	71

int	pop3_uidl(const struct uidlist *, const struct uidlist_rec *,
	    char *buf, size_t bufsz);

#endif
