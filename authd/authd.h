/*
 * tsamba-authd: the broker that answers "is this recipient ours, and
 * where does its mail go" for the other daemons over auth.sock.  The
 * pieces: authd.c (start-up, signals), authd_server.c (the socket and its
 * clients), authd_lookup.c (recipient and mailbox resolution) and
 * authd_file.c (the plain text tables).
 */

#ifndef TSAMBA_AUTHD_H
#define TSAMBA_AUTHD_H

#include <sys/types.h>
#include <sys/tree.h>

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "conf.h"
#include "proto.h"

/* libbsd's sys/tree.h spells its static variants with the BSD __unused. */
#ifndef __unused
#define __unused	__attribute__((__unused__))
#endif

/* A lookup key: "local@domain" or "@domain", lowercased. */
#define AUTHD_KEY_MAX		(ADDR_LOCAL_MAX + 1 + ADDR_DOMAIN_MAX + 1)
#define ALIAS_DEPTH_MAX		10	/* nested alias levels */

struct authd {
	const struct conf	*conf;
	uid_t			 vmail_uid;	/* default mailbox owner */
	gid_t			 vmail_gid;
	uid_t			 peer_uids[4];	/* may connect, besides us */
	size_t			 npeer_uids;
};

extern struct authd	*authd;

/* authd_server.c */
void	server_listen(const struct conf *);
void	server_start(void);
void	server_shutdown(void);

/* authd_file.c: the file backend. */
struct file_user {
	int		 has_uid;
	int		 has_gid;
	uid_t		 uid;
	gid_t		 gid;
	const char	*maildir;	/* from the home field, or NULL */
	int		 bad_home;	/* home outside the mail root */
};

struct file_alias {
	const struct mailaddr	*dests;
	size_t			 ndests;
};

/* Load every configured table; -1 after logging file:line errors. */
int	file_init(const struct conf *);
/* Re-read changed tables (force: all of them, for SIGHUP). */
void	file_refresh(int force);
int	file_domain_exists(const char *domain);
int	file_user_find(const char *key, struct file_user *);
int	file_alias_find(const char *key, struct file_alias *);
void	file_free(void);

/* authd_lookup.c */
struct rcpt_result {
	char	 mailbox[ADDR_MAX + 1];
	uint8_t	 flags;				/* RCPT_LOCAL */
};

struct rcpt_results {
	size_t			 n;
	struct rcpt_result	 r[ALIAS_EXPAND_MAX];
};

struct user_result {
	char		 maildir[PATH_MAX];	/* relative to the mail root */
	uid_t		 uid;
	gid_t		 gid;
	uint64_t	 quota;
};

/* Both return an enum lookup_status. */
int	lookup_rcpt(const char *address, struct rcpt_results *);
int	lookup_user(const char *mailbox, struct user_result *);
/* Key of a parsed address: "local@domain", lowercased; -1 if too long. */
int	lookup_key(const struct mailaddr *, char *, size_t);

#endif
