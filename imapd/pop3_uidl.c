/*
 * POP3 UIDLs.  Dovecot 2.3's default pop3_uidl_format is
 * "%08Xu%08Xv": the UID and the folder's UIDVALIDITY, each as eight
 * hex digits (written in lower case, as a real Dovecot 2.3.19 shows:
 * "000000016b1744c8").  A message migrated with a UIDL of its own
 * carries it in the uidlist record as the 'P' extension field, and
 * Dovecot then gives that one; so does this.
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "pop3_uidl.h"

int
pop3_uidl(const struct uidlist *ul, const struct uidlist_rec *r,
    char *buf, size_t bufsz)
{
	const char	*p;
	size_t		 len;
	int		 n;

	if ((p = uidlist_ext(r, 'P', &len)) != NULL && len > 0 &&
	    len < POP3_UIDL_MAX) {
		if (len >= bufsz) {
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(buf, p, len);
		buf[len] = '\0';
		return 0;
	}
	n = snprintf(buf, bufsz, "%08x%08x", r->uid, ul->uidvalidity);
	if (n < 0 || (size_t)n >= bufsz) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}
