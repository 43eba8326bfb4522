/*
 * Queue ids: exactly MSGID_LEN lower-case hex digits.  Upper case is
 * refused, not folded: the id is a file name in the spool, and one
 * message must have one name.
 */

#include <string.h>

#include "msgid.h"
#include "proto.h"

int
msgid_valid_len(const char *s, size_t len)
{
	size_t	 i;

	if (len != MSGID_LEN)
		return 0;
	for (i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

int
msgid_valid(const char *s)
{
	return msgid_valid_len(s, strnlen(s, MSGID_LEN + 1));
}
