/*
 * tsamba-authd: the broker that answers "is this recipient ours, where
 * does its mail go, is this password right, is this client banned" for
 * the other daemons over auth.sock.  The pieces: authd.c (start-up,
 * signals), authd_server.c (auth.sock and its clients), authd_worker.c
 * (the thread pool that runs every table lookup and password check),
 * authd_lookup.c (recipient, mailbox, login and sender resolution),
 * authd_table.c (one backend per table), authd_file.c (the plain text
 * tables), authd_mysql.c (MariaDB), authd_ban.c (failure counting and
 * bans), authd_role.c (which role may ask what), authd_token.c (the
 * one-time tokens of IMAP/POP3 logins) and authd_control.c (the control
 * socket of tsambactl).
 */

#ifndef TSAMBA_AUTHD_H
#define TSAMBA_AUTHD_H

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/tree.h>

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "addr.h"
#include "conf.h"
#include "passwd.h"
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
	unsigned int		 nworkers;
};

extern struct authd	*authd;

/* authd_server.c */
void	server_listen(const struct conf *);
void	server_start(void);
void	server_shutdown(void);
/* A printable copy of a peer's string for one log line. */
const char *printable(const char *, char *, size_t);

/* authd_file.c: the file backend. */
struct file_user {
	int		 has_uid;
	int		 has_gid;
	uid_t		 uid;
	gid_t		 gid;
	const char	*maildir;	/* from the home field, or NULL */
	int		 bad_home;	/* home outside the mail root */
	const char	*hash;		/* "{SCHEME}..." or "" */
	int		 has_quota;	/* a quota_rule in the extra fields */
	uint64_t	 quota;		/* bytes, 0 unlimited */
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
/* Held around file_* calls from the workers; the refresh writes. */
void	file_rdlock(void);
void	file_unlock(void);

/*
 * authd_table.c: the backend of each table.  Every lookup answers
 * TABLE_FOUND, TABLE_NOTFOUND or TABLE_TEMPFAIL (a database that is
 * down: never a "no").  Called from the worker threads only.
 */
#define TABLE_FOUND	0
#define TABLE_NOTFOUND	1
#define TABLE_TEMPFAIL	2

#define TABLE_HASH_MAX	1024

struct table_user {
	char		 canon[AUTHD_KEY_MAX];	/* address as in the table */
	int		 has_uid;
	int		 has_gid;
	uid_t		 uid;
	gid_t		 gid;
	char		 maildir[PATH_MAX];	/* "" = domain/local/ */
	int		 bad_home;
	char		 hash[TABLE_HASH_MAX];
	int		 has_quota;	/* else the configured default */
	uint64_t	 quota;		/* bytes, 0 unlimited */
};

struct table_alias {
	struct mailaddr	*dests;		/* malloc'd, table_alias_free() */
	size_t		 ndests;
};

int	table_config(const struct conf *);	/* before the drop */
int	table_init(const struct conf *);	/* after it */
int	table_all_mysql_tcp(const struct conf *);
void	table_thread_start(void);	/* in each worker */
void	table_thread_stop(void);
int	table_domain(const char *domain);
int	table_user(const char *key, struct table_user *);
int	table_alias(const char *key, struct table_alias *);
void	table_alias_free(struct table_alias *);
void	table_free(void);

/* authd_mysql.c: the MariaDB backend (per worker thread connection). */
struct sqlconf;
int	mysql_backend_init(const char *path, struct sqlconf *);
int	mysql_backend_check(const struct conf *);
void	mysql_thread_start(void);
void	mysql_thread_stop(void);
int	mysql_domain(const char *domain);
int	mysql_user(const char *key, struct table_user *);
int	mysql_alias(const char *key, struct table_alias *);
void	mysql_backend_free(void);

/* authd_worker.c: the thread pool. */
struct job;
typedef void	(*job_fn)(struct job *);
struct job {
	TAILQ_ENTRY(job)	 entry;
	job_fn			 run;		/* in a worker */
	job_fn			 done;		/* back in the event loop */
	uint64_t		 client;	/* serial of the asker */
	uint64_t		 id;		/* of the request */
	uint32_t		 type;		/* of the request */
	/* LOOKUP_RCPT address, LOOKUP_USER mailbox, LOGIN/CHECK_SENDER user */
	char			 address[ADDR_MAX + 1];
	char			 password[PASSWD_MAX + 1];	/* LOGIN */
	size_t			 passwordlen;
	char			 sender[ADDR_MAX + 1];	/* CHECK_SENDER */
	char			 ip[64];
	char			 service[16];
	int			 status;	/* the answer */
	int			 reason;	/* LOGIN_* of a failure */
	char			 canon[AUTHD_KEY_MAX];
	struct rcpt_results	*rcpt;
	struct user_result	*user;
};
void	worker_start(unsigned int);
void	worker_submit(struct job *);
void	worker_stop(void);

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
/* An enum auth_status; reason says why a failure failed. */
#define LOGIN_REASON_PASSWORD	1
#define LOGIN_REASON_NOUSER	2
#define LOGIN_REASON_SCHEME	3
int	lookup_login(const char *user, const char *password, size_t len,
	    char *canon, size_t canonsz, int *reason);
/* LOOKUP_OK if the user may send as this address. */
int	lookup_sender(const char *user, const char *sender);
void	lookup_init(void);
/* After lookup_init(): warn when mail to postmaster goes nowhere. */
void	lookup_postmaster_check(void);

/* authd_ban.c */
void	ban_init(const struct conf *);	/* as root, before the drop */
void	ban_start(void);		/* load, timers */
/* 1 and the end of the ban if banned. */
int	ban_check(const char *ip, time_t *end);
void	ban_failure(const char *service, const char *user, const char *ip,
	    const char *reason);
struct ban_entry {
	char		 ip[CONF_HOST_MAX];
	time_t		 end;
	unsigned int	 failures;
};
typedef int	(*ban_walk_fn)(const struct ban_entry *, void *);
void	ban_walk(ban_walk_fn, void *);
int	ban_add(const char *net, time_t seconds, char *err, size_t errsz);
int	ban_del(const char *net, char *err, size_t errsz);

/* authd_role.c */
void	role_init(const struct conf *);		/* before the drop */
/* The role uids that may connect (root and authd's own always may). */
const uid_t *role_peer_uids(size_t *);
/* The roles of a uid for the log: "smtp", "smtp/lmtp", "root". */
const char *role_names(uid_t, char *, size_t);
/* 1 if the peer's role may ask this type; 0 after logging why not. */
int	role_may_ask(uid_t, pid_t, uint32_t type);

/* authd_token.c: one-time IMAP/POP3 login tokens. */
int	token_service(const char *service);
int	token_issue(const char *service, const char *user,
	    const struct user_result *, char *hex, size_t hexsz);
int	token_redeem(const char *hex, const char *service, char *user,
	    size_t usersz, struct user_result *);

/* authd_control.c */
void	authd_control_listen(const struct conf *);
void	authd_control_start(void);
void	authd_control_shutdown(void);

#endif
