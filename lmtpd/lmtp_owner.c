/*
 * The check of a mailbox owner before the lmtpd parent spawns a writer
 * as it (lmtp_owner.h).  The engine relays authd's answer and the
 * parent cannot tell a forged one: it accepts only what authd can
 * legitimately say, the vmail user's ids or ordinary account ids.
 */

#include <sys/types.h>

#include "lmtp_owner.h"

static int
id_in_range(unsigned long id)
{
	return id >= LMTP_OWNER_ID_MIN && id <= LMTP_OWNER_ID_MAX;
}

int
lmtp_owner_allowed(const struct lmtp_owner_policy *p, uid_t uid, gid_t gid)
{
	/* Root, even as the vmail user: a writer must never be root. */
	if (uid == 0 || gid == 0)
		return 0;
	if (uid != p->vmail_uid && !id_in_range(uid))
		return 0;
	if (gid != p->vmail_gid && !id_in_range(gid))
		return 0;
	return 1;
}
