/*
 * The mail process: forked by the parent for one authenticated session,
 * with the mailbox authd named for the redeemed token.  As root it makes
 * the user's Maildir if it is not there yet (as the owner, so the files
 * are the owner's), then chroots into it and drops to the owner's uid
 * and gid (lib/privdrop.c): from then on the session can reach that one
 * mail home and nothing else.  It speaks IMAP (imap_session.c) or POP3
 * (pop3_session.c) over its socketpair until LOGOUT/QUIT, the
 * autologout timer, SIGTERM (shutdown: a BYE first), SIGUSR1 (the
 * administrator's kick: a BYE first) or the login process going away.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "maildir.h"
#include "privdrop.h"
#include "imapd.h"
#include "mime.h"

volatile int	 mail_stopping;

static void
mail_term(int sig)
{
	mail_stopping = sig == SIGUSR1 ? MAIL_STOP_KICK : MAIL_STOP_SHUTDOWN;
}

/* As root, briefly the owner: mkdir -p the Maildir below the mail root. */
static void
mail_home_create(const char *home, uid_t uid, gid_t gid)
{
	int	 root;

	if ((root = open(imapd_conf->mailroot, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1)
		fatal("%s", imapd_conf->mailroot);
	if (setegid(gid) == -1 || seteuid(uid) == -1)
		fatal("seteuid");
	if (maildir_create(root, home, MAILDIR_NOFOLLOW) == -1)
		fatal("cannot create the Maildir %s/%s", imapd_conf->mailroot,
		    home);
	if (seteuid(0) == -1 || setegid(0) == -1)
		fatal("seteuid back");
	close(root);
}

void
mail_main(int fd, int proto, const char *user, const char *home, uid_t uid,
    gid_t gid, uint64_t quota)
{
	struct mail_session	 s;
	struct sigaction	 sa;
	char			 path[PATH_MAX];
	const char		*name = proto == PROTO_IMAP ? "imap mail" :
				    "pop3 mail";
	int			 root = geteuid() == 0;

	log_procname(name);
	if (!maildir_path_ok(home) || (size_t)snprintf(path, sizeof(path),
	    "%s/%s", imapd_conf->mailroot, home) >= sizeof(path))
		fatalx("%s: bad mail home \"%s\"", user, home);
	if (root)
		mail_home_create(home, uid, gid);
	else if (maildir_create(AT_FDCWD, path, 0) == -1)
		fatal("cannot create the Maildir %s", path);
	mime_charsets_preload();
	priv_drop_ids(uid, gid, path, name);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = mail_term;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: poll(2) returns, the session says BYE. */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);

	memset(&s, 0, sizeof(s));
	s.user = user;
	if ((s.root = open(root ? "/" : path, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1)
		fatal("open %s", root ? "/" : path);
	mio_init(&s.io, fd, 64 * 1024, imapd_conf->imap_timeout_idle * 1000);
	s.quota = quota;
	if (proto == PROTO_IMAP)
		imap_session_run(&s);
	else
		pop3_session_run(&s);
	mio_flush(&s.io);
	exit(0);
}
