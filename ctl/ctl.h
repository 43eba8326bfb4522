/*
 * tsambactl: the administration tool of the suite.  ctl.c reads the
 * command line and dispatches; one file per command family (ctl_user.c,
 * ctl_domain.c, ctl_alias.c, ctl_pw.c, ctl_check.c, ctl_ban.c,
 * ctl_dkim.c, ctl_queue.c, ctl_health*.c, ctl_status.c, ctl_who.c); the
 * tables are reached through ctl_backend.h, the mailboxes through
 * ctl_maildir.c, the daemons' control sockets through ctl_imsg.c.
 */

#ifndef TSAMBA_CTL_H
#define TSAMBA_CTL_H

#include <stddef.h>

#include "conf.h"
#include "channel.h"
#include "imsg.h"

struct ctl {
	const char	*conffile;
	struct conf	 conf;
	int		 conf_loaded;
	const char	*what;		/* "user add": prefix of errors */
	/* Set: warnings go here instead of stderr (health's details). */
	char		*capture;
	size_t		 capturesz;
};

extern struct ctl	*ctl;

/* "tsambactl: <what>: message" on stderr. */
void	ctl_warnx(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));
/* The same with ": strerror(errno)" appended. */
void	ctl_warn(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));
void	ctl_errx(const char *, ...)
	    __attribute__((__noreturn__, __format__ (printf, 1, 2)));
/* Parse tsamba.conf once; exits on errors (printed by conf_parse). */
struct conf	*ctl_conf(void);
void	ctl_usage(void) __attribute__((__noreturn__));

/* One word after a command: "alias add" runs fn(argc - 1, argv + 1). */
struct ctl_subcmd {
	const char	*name;		/* "add" */
	const char	*what;		/* "alias add": ctl->what */
	int		(*fn)(int, char **);
};
/* Run the subcommand named by argv[1] (subs ends with a NULL name). */
int	ctl_subcmd(int argc, char *argv[], const struct ctl_subcmd *subs);

/* Commands: argv[0] is the command's name; the exit status. */
int	cmd_user(int, char **);
int	cmd_domain(int, char **);
int	cmd_alias(int, char **);
int	cmd_pw(int, char **);
int	cmd_check(int, char **);
int	cmd_check_message(int, char **);
int	cmd_ban(int, char **);
int	cmd_dkim(int, char **);
int	cmd_queue(int, char **);
int	cmd_health(int, char **);	/* exits 0, 1 or 2 itself */
int	cmd_status(int, char **);
int	cmd_who(int, char **);		/* ctl_who.c */
int	cmd_kick(int, char **);

/* ctl_imsg.c: a conversation on a daemon's control socket. */
struct ctl_imsg {
	struct channel	 ch;
	const char	*peer;		/* "tsamba-authd": hello and errors */
};
/*
 * Connect to sockname in the run directory, hello; the answers accepted
 * are types[]: 0 or -1 (printed).
 */
int	ctl_imsg_open(struct ctl_imsg *, const struct conf *,
	    const char *sockname, const char *peer,
	    const struct channel_type *types);
/* types for an open that only says hello (status, health). */
extern const struct channel_type ctl_hello_types[];
/*
 * Send b (built with id); each answer to each() up to the last: 0, or
 * -1 (printed, or each() said so).
 */
int	ctl_imsg_request(struct ctl_imsg *, struct ibuf *, uint64_t id,
	    int (*each)(struct imsg *, union imsg_msg *, void *), void *);
void	ctl_imsg_close(struct ctl_imsg *);

/* ctl_names.c: the names of the command line, as table keys. */
#define CTL_KEY_MAX	(64 + 1 + 255 + 1)
struct ctl_addr {
	char	 key[CTL_KEY_MAX];	/* "local@domain", lowercased */
	char	 local[CTL_KEY_MAX];
	char	 domain[CTL_KEY_MAX];
};
/* A mailbox address; -1 after printing why it is not one. */
int	name_address(const char *, struct ctl_addr *);
/* An alias source: an address or "@domain" (then local is ""). */
int	name_source(const char *, struct ctl_addr *);
int	name_domain(const char *, char *key, size_t keysz);
/* 1 if the domain is in the domains table, 0 if not, -1 on error. */
int	domain_hosted(const struct conf *, const char *domain);

/* ctl_pw.c: the password of "-p": NULL is generated.  0 or -1. */
int	pw_read(const char *arg, char *out, size_t outsz);

/* ctl_maildir.c: as the mailbox owner, through lib/maildir. */
/* -1 (error printed), MAILDIR_CREATED or MAILDIR_EXISTED (maildir.h). */
int	ctl_maildir_create(const struct conf *, const char *domain,
	    const char *local);
/* Remove the whole Maildir tree; 0 or -1 (error printed). */
int	ctl_maildir_remove(const struct conf *, const char *domain,
	    const char *local);
/* 0 if local and domain make a safe path below the mail root. */
int	ctl_maildir_name_ok(const char *domain, const char *local);

#endif
