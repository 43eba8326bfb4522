/*
 * Unit tests for lib/msgid.c: a queue id is exactly MSGID_LEN lower-case
 * hex digits, whether it comes from a spool file name or an admin.
 */

#include <string.h>

#include "msgid.h"
#include "proto.h"
#include "unit.h"

int
main(void)
{
	static const char	*bad[] = { "", "0123456789abcde",
	    "0123456789abcdef0", "0123456789ABCDEF", "0123456789abcdeg",
	    "0123456789abcde ", "../../etc/passwd", "0123456789abcdef\n",
	    "-123456789abcdef" };
	size_t			 i;

	CHECK(MSGID_LEN == 16);
	CHECK(msgid_valid("0123456789abcdef"));
	CHECK(msgid_valid("ffffffffffffffff"));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECKF(!msgid_valid(bad[i]), "\"%s\"", bad[i]);
	/* A spool name: the id is the first MSGID_LEN bytes of it. */
	CHECK(msgid_valid_len("0123456789abcdef.env", MSGID_LEN));
	CHECK(!msgid_valid_len("0123456789abcdef.env", 20));
	CHECK(!msgid_valid_len("0123456789abcde", 15));
	CHECK(!msgid_valid_len("0123456789abcdeF.env", MSGID_LEN));
	return unit_done("test_msgid");
}
