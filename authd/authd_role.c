/*
 * authd's role table: which process role may ask which question on
 * auth.sock.  A role is told apart by the uid its connection carries
 * (SO_PEERCRED; the parents of the chrooted engines connect with the
 * engine's uid, see unixsock_connect_as()).  The uids come from the
 * same tsamba.conf "user" statements the daemons drop to, resolved once
 * at start-up.
 *
 * LOGIN and CHECK_BAN carry a client IP that authd believes (failures
 * are counted against it, bans are kept per IP), so only the roles that
 * talk to mail clients themselves may send them: the smtp engine and
 * the IMAP/POP3 login.  Root (tsambactl, the tests) and authd's own uid
 * may ask everything.  REDEEM (the mailbox behind an IMAP/POP3 login
 * token) is for the imapd parent, which runs as root: no role has it,
 * the imap login least of all, so that the process that parsed the
 * client's words cannot name the mailbox it gets.  Roles that share one
 * uid (a non-root demo, or an admin who named one user twice) cannot be
 * told apart: the uid may ask what any of them may, and authd says so
 * once at start-up.
 */

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "privdrop.h"
#include "proto.h"
#include "authd.h"

#define ASK_RCPT	0x01
#define ASK_USER	0x02
#define ASK_LOGIN	0x04
#define ASK_SENDER	0x08
#define ASK_BAN		0x10
#define ASK_REDEEM	0x20
#define ASK_ALL		0x3f

struct role {
	const char	*name;
	size_t		 user;		/* offset of its name in struct conf */
	unsigned int	 may;		/* ASK_* */
};

static const struct role roles[] = {
	{ "smtp", offsetof(struct conf, user_smtpd),
	    ASK_RCPT | ASK_LOGIN | ASK_SENDER | ASK_BAN },
	{ "imap-login", offsetof(struct conf, user_imap),
	    ASK_LOGIN | ASK_BAN },
	{ "lmtp", offsetof(struct conf, user_lmtpd), ASK_USER },
	/* Neither asks authd today; they are named to be refused by name. */
	{ "mta", offsetof(struct conf, user_mta), 0 },
	{ "queue", offsetof(struct conf, user_queue), 0 },
};
#define NROLES	(sizeof(roles) / sizeof(roles[0]))

static uid_t	 role_uid[NROLES];
static int	 role_known[NROLES];	/* the user exists */
static uid_t	 accept_uids[NROLES];	/* for unixsock_accept() */
static size_t	 naccept_uids;

static unsigned int
ask_bit(uint32_t type)
{
	switch (type) {
	case IMSG_AUTH_LOOKUP_RCPT:
		return ASK_RCPT;
	case IMSG_AUTH_LOOKUP_USER:
		return ASK_USER;
	case IMSG_AUTH_LOGIN:
		return ASK_LOGIN;
	case IMSG_AUTH_CHECK_SENDER:
		return ASK_SENDER;
	case IMSG_AUTH_CHECK_BAN:
		return ASK_BAN;
	case IMSG_AUTH_REDEEM:
		return ASK_REDEEM;
	}
	return 0;
}

static const char *
ask_name(uint32_t type)
{
	switch (type) {
	case IMSG_AUTH_LOOKUP_RCPT:
		return "LOOKUP_RCPT";
	case IMSG_AUTH_LOOKUP_USER:
		return "LOOKUP_USER";
	case IMSG_AUTH_LOGIN:
		return "LOGIN";
	case IMSG_AUTH_CHECK_SENDER:
		return "CHECK_SENDER";
	case IMSG_AUTH_CHECK_BAN:
		return "CHECK_BAN";
	case IMSG_AUTH_REDEEM:
		return "REDEEM";
	}
	return "unknown";
}

static int
uid_trusted(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}

/* What a uid may ask: the union over the roles that have it. */
static unsigned int
uid_may(uid_t uid)
{
	unsigned int	 may = 0;
	size_t		 i;

	if (uid_trusted(uid))
		return ASK_ALL;
	for (i = 0; i < NROLES; i++)
		if (role_known[i] && role_uid[i] == uid)
			may |= roles[i].may;
	return may;
}

/* The roles a uid stands for, "smtp/lmtp", for the log. */
const char *
role_names(uid_t uid, char *buf, size_t bufsz)
{
	size_t	 i;

	buf[0] = '\0';
	for (i = 0; i < NROLES; i++) {
		if (!role_known[i] || role_uid[i] != uid)
			continue;
		if (buf[0] != '\0')
			strlcat(buf, "/", bufsz);
		strlcat(buf, roles[i].name, bufsz);
	}
	if (buf[0] == '\0')
		strlcpy(buf, uid == 0 ? "root" : uid == geteuid() ? "authd" :
		    "none", bufsz);
	return buf;
}

void
role_init(const struct conf *conf)
{
	const char	*user;
	char		 names[64];
	uid_t		 self;
	gid_t		 gid;
	size_t		 i, j;
	int		 shared = 0;

	/* Before the drop: the uid authd is about to become. */
	if (geteuid() != 0 || priv_lookup(conf->user_auth, &self, &gid) == -1)
		self = geteuid();

	naccept_uids = 0;
	for (i = 0; i < NROLES; i++) {
		user = (const char *)conf + roles[i].user;
		role_known[i] = priv_lookup(user, &role_uid[i], &gid) == 0;
		if (!role_known[i]) {
			log_debug("role %s: user %s does not exist: it may "
			    "not ask", roles[i].name, user);
			continue;
		}
		for (j = 0; j < naccept_uids; j++)
			if (accept_uids[j] == role_uid[i])
				break;
		if (j < naccept_uids)
			shared = 1;
		else
			accept_uids[naccept_uids++] = role_uid[i];
	}
	for (i = 0; i < NROLES; i++)
		if (role_known[i] && (role_uid[i] == 0 || role_uid[i] == self))
			shared = 1;
	if (!shared)
		return;
	/* Once: every uid whose roles authd cannot tell apart. */
	for (i = 0; i < naccept_uids; i++) {
		role_names(accept_uids[i], names, sizeof(names));
		if (accept_uids[i] == 0 || accept_uids[i] == self)
			log_warnx("roles %s run as uid %u, %s: authd cannot "
			    "tell them apart and answers them every question",
			    names, (unsigned)accept_uids[i],
			    accept_uids[i] == 0 ? "root" : "authd's own");
		else if (strchr(names, '/') != NULL)
			log_warnx("roles %s share uid %u: authd cannot tell "
			    "them apart", names, (unsigned)accept_uids[i]);
	}
}

const uid_t *
role_peer_uids(size_t *n)
{
	*n = naccept_uids;
	return accept_uids;
}

int
role_may_ask(uid_t uid, pid_t pid, uint32_t type)
{
	char	 names[64];

	if (uid_may(uid) & ask_bit(type))
		return 1;
	log_warnx("uid %u pid %d (role %s) may not ask %s (type %u), closed",
	    (unsigned)uid, (int)pid, role_names(uid, names, sizeof(names)),
	    ask_name(type), type);
	return 0;
}
