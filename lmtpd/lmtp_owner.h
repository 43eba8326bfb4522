/*
 * Which mailbox owners the lmtpd parent starts writers as: a check of
 * the user and group ids the engine asks for, so that a compromised
 * engine cannot have the root parent run a writer as an arbitrary user.
 */

#ifndef TSAMBA_LMTP_OWNER_H
#define TSAMBA_LMTP_OWNER_H

#include <sys/types.h>

/*
 * Ids a users table may give a mailbox besides the vmail user's: the
 * range of ordinary accounts of Debian's login.defs (UID_MIN..UID_MAX,
 * GID_MIN..GID_MAX).  Below are root and the system accounts (daemons,
 * tsamba's own users), above nobody/nogroup and the systemd ranges.
 */
#define LMTP_OWNER_ID_MIN	1000
#define LMTP_OWNER_ID_MAX	60000

struct lmtp_owner_policy {
	uid_t	 vmail_uid;
	gid_t	 vmail_gid;
};

/* 1 if a writer may run as uid:gid, else 0 (never for id 0). */
int	lmtp_owner_allowed(const struct lmtp_owner_policy *, uid_t, gid_t);

#endif
