/*
 * Unit tests for lib/esc.c: enhanced status codes as replies show them
 * (two-digit details, the class from the reply code), whole reply lines
 * and their truncation, and the RFC 3463 meanings.
 */

#include <string.h>

#include "esc.h"
#include "unit.h"

static void
test_codes(void)
{
	CHECK(strcmp(esc_code(ESC_PERMFAIL, ESC_BAD_DESTINATION_MAILBOX),
	    "5.1.1") == 0);
	CHECK(strcmp(esc_code(ESC_SUCCESS, ESC_OTHER_STATUS), "2.0.0") == 0);
	CHECK(strcmp(esc_code(ESC_TEMPFAIL, ESC_ROUTING_SERVER_FAILURE),
	    "4.4.3") == 0);
	/* Details past 9 (RFC 7505, RFC 5248). */
	CHECK(strcmp(esc_code(ESC_PERMFAIL, ESC_DESTINATION_NULL_MX),
	    "5.1.10") == 0);
	CHECK(strcmp(esc_code(ESC_PERMFAIL, ESC_ENCRYPTION_REQUIRED),
	    "5.7.11") == 0);
	CHECK(strcmp(esc_for_reply(250, ESC_DESTINATION_VALID), "2.1.5") == 0);
	CHECK(strcmp(esc_for_reply(421, ESC_OTHER_SECURITY_STATUS),
	    "4.7.0") == 0);
	CHECK(strcmp(esc_for_reply(554, ESC_DELIVERY_NOT_AUTHORIZED),
	    "5.7.1") == 0);
	/* Not in the table: "other", never made-up digits. */
	CHECK(strcmp(esc_code(ESC_PERMFAIL, ESC_SD(9, 9)), "5.0.0") == 0);
}

static void
test_replies(void)
{
	char	 buf[64], small[12];
	int	 n;

	n = esc_reply(buf, sizeof(buf), 550, ESC_BAD_DESTINATION_MAILBOX,
	    "<%s>: User unknown", "a@b.example");
	CHECK(strcmp(buf, "550 5.1.1 <a@b.example>: User unknown") == 0);
	CHECK(n == (int)strlen(buf));
	n = esc_reply(small, sizeof(small), 452, ESC_TOO_MANY_RECIPIENTS,
	    "Error: too many recipients");
	CHECK(strcmp(small, "452 4.5.3 E") == 0);
	CHECK(n == (int)strlen("452 4.5.3 Error: too many recipients"));
	n = esc_reply(small, 4, 250, ESC_OTHER_STATUS, "Ok");
	CHECK(strcmp(small, "250") == 0);
	CHECK(n == (int)strlen("250 2.0.0 Ok"));
}

static void
test_descriptions(void)
{
	CHECK(strcmp(esc_description(ESC_BAD_DESTINATION_MAILBOX),
	    "Bad destination mailbox address") == 0);
	CHECK(strcmp(esc_description(ESC_MAILBOX_FULL), "Mailbox full") == 0);
	CHECK(strcmp(esc_description(ESC_SD(9, 9)),
	    "Other undefined Status") == 0);
}

int
main(void)
{
	test_codes();
	test_replies();
	test_descriptions();
	return unit_done("test_esc");
}
