/*
 * Unit tests for lmtpd/lmtp_owner.c: the lmtpd parent starts writers
 * only as the vmail user or as an ordinary account, whatever uid and
 * gid a (possibly compromised) engine puts in a DELIVER: never root,
 * a system account such as a tsamba daemon's own user, or nobody.
 */

#include <sys/types.h>

#include "../../lmtpd/lmtp_owner.h"
#include "unit.h"

int
main(void)
{
	/* A vmail user from the system range, as useradd --system makes. */
	struct lmtp_owner_policy	 p = { .vmail_uid = 998,
	    .vmail_gid = 997 };
	struct lmtp_owner_policy	 rootish = { .vmail_uid = 0,
	    .vmail_gid = 0 };

	CHECK(lmtp_owner_allowed(&p, 998, 997));
	/* Per-user ids of the users table: ordinary accounts. */
	CHECK(lmtp_owner_allowed(&p, 2000, 2001));
	CHECK(lmtp_owner_allowed(&p, 1000, 1000));
	CHECK(lmtp_owner_allowed(&p, 60000, 60000));
	CHECK(lmtp_owner_allowed(&p, 998, 2001));
	CHECK(lmtp_owner_allowed(&p, 2000, 997));

	/* Root, in either id. */
	CHECK(!lmtp_owner_allowed(&p, 0, 0));
	CHECK(!lmtp_owner_allowed(&p, 0, 997));
	CHECK(!lmtp_owner_allowed(&p, 998, 0));
	CHECK(!lmtp_owner_allowed(&rootish, 0, 0));
	/* System accounts other than vmail: daemon, a tsamba user. */
	CHECK(!lmtp_owner_allowed(&p, 1, 1));
	CHECK(!lmtp_owner_allowed(&p, 999, 997));
	CHECK(!lmtp_owner_allowed(&p, 998, 42));
	CHECK(!lmtp_owner_allowed(&p, 999, 999));
	/* nobody/nogroup and beyond the ordinary range. */
	CHECK(!lmtp_owner_allowed(&p, 65534, 65534));
	CHECK(!lmtp_owner_allowed(&p, 60001, 997));
	CHECK(!lmtp_owner_allowed(&p, 998, 60001));
	CHECK(!lmtp_owner_allowed(&p, (uid_t)-1, (gid_t)-1));

	return unit_done("test_lmtp_owner");
}
