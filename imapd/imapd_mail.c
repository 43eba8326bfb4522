/*
 * The parent's mail processes.  The login process asks for one with the
 * token authd gave it and the mail end of a socketpair; the parent
 * redeems the token with authd itself (root's channel, a question the
 * login process may not ask), so the mailbox, its owner and its path
 * come from authd and never from the login process.  Then it counts the
 * user's sessions against the limit, forks, and the child becomes the
 * mail process (mail.c).  Children are reaped here; one that crashes is
 * logged and harms no other session.  The control socket
 * (imapd_control.c) lists the sessions and kicks a user's here.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "channel.h"
#include "log.h"
#include "proto.h"
#include "stats.h"
#include "imapd.h"

#define MAIL_REDEEM_TIMEOUT	10000	/* msec */

struct mail_start {
	TAILQ_ENTRY(mail_start)	 entry;
	struct channel_req	 req;
	uint64_t		 id;	/* the login process' request */
	int			 proto;
	int			 fd;
	char			 ip[PROTO_HOST_MAX + 1];
};

struct mail_proc {
	TAILQ_ENTRY(mail_proc)	 entry;
	pid_t			 pid;
	int			 proto;
	time_t			 since;
	char			 user[ADDR_MAX + 1];
	char			 ip[PROTO_HOST_MAX + 1];
};

static TAILQ_HEAD(, mail_start)	 starts = TAILQ_HEAD_INITIALIZER(starts);
static TAILQ_HEAD(, mail_proc)	 procs = TAILQ_HEAD_INITIALIZER(procs);
static struct channel		*login_ch, *authd_ch;

static void	mail_redeemed(struct channel_req *, struct imsg *,
		    union imsg_msg *);

void
mail_procs_init(struct channel *login, struct channel *authd)
{
	login_ch = login;
	authd_ch = authd;
}

static void
mail_answer(uint64_t id, int status, const char *user)
{
	struct msg_imap_mail_started	 m = { .id = id, .status = status,
	    .user = status == MAIL_OK ? user : "" };

	if (channel_send(login_ch, msg_imap_mail_started_pack(&m, -1)) == -1)
		fatalx("cannot queue MAIL_STARTED");
}

static void
mail_start_free(struct mail_start *ms)
{
	TAILQ_REMOVE(&starts, ms, entry);
	if (ms->fd != -1)
		close(ms->fd);
	explicit_bzero(ms, sizeof(*ms));
	free(ms);
}

void
mail_procs_start(struct imsg *imsg, struct msg_imap_mail_start *m)
{
	struct msg_auth_redeem	 r;
	struct mail_start	*ms;

	if (imsg->fd == -1)
		fatalx("MAIL_START without a socket");
	if (m->proto != PROTO_IMAP && m->proto != PROTO_POP3)
		fatalx("MAIL_START for unknown protocol %u", m->proto);
	if ((ms = calloc(1, sizeof(*ms))) == NULL) {
		log_warn("%s", __func__);
		close(imsg->fd);
		imsg->fd = -1;
		mail_answer(m->id, MAIL_TEMPFAIL, NULL);
		return;
	}
	ms->id = m->id;
	ms->proto = m->proto;
	ms->fd = imsg->fd;
	imsg->fd = -1;
	strlcpy(ms->ip, m->ip, sizeof(ms->ip));
	TAILQ_INSERT_TAIL(&starts, ms, entry);
	if (!channel_up(authd_ch)) {
		log_warnx("mail process for %s: authd is not reachable",
		    ms->ip);
		mail_answer(ms->id, MAIL_TEMPFAIL, NULL);
		mail_start_free(ms);
		return;
	}
	r.id = channel_req_add(authd_ch, &ms->req, MAIL_REDEEM_TIMEOUT,
	    mail_redeemed, ms);
	r.token = m->token;
	r.service = ms->proto == PROTO_IMAP ? "imap" : "pop3";
	if (channel_send(authd_ch, msg_auth_redeem_pack(&r, -1)) == -1) {
		channel_req_cancel(&ms->req);
		mail_answer(ms->id, MAIL_TEMPFAIL, NULL);
		mail_start_free(ms);
	}
}

static unsigned int
mail_user_count(const char *user)
{
	struct mail_proc	*mp;
	unsigned int		 n = 0;

	TAILQ_FOREACH(mp, &procs, entry)
		if (strcmp(mp->user, user) == 0)
			n++;
	return n;
}

/* In the child: nothing of the parent's loop or descriptors stays. */
static void
mail_child(struct mail_start *ms, struct msg_auth_redeem_result *a)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGCHLD };
	sigset_t	 none;
	size_t		 i;
	int		 fd = ms->fd;

	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (fd != 3) {
		if (dup2(fd, 3) == -1)
			fatal("dup2");
		close(fd);
	}
	closefrom(4);
	mail_main(3, ms->proto, a->user, a->maildir, a->uid, a->gid,
	    a->quota);
}

static void
mail_redeemed(struct channel_req *req, struct imsg *imsg,
    union imsg_msg *m)
{
	struct mail_start		*ms = req->arg;
	struct msg_auth_redeem_result	*a;
	struct mail_proc		*mp;
	pid_t				 pid;

	if (imsg == NULL) {
		log_warnx("mail process for %s: authd did not answer",
		    ms->ip);
		mail_answer(ms->id, MAIL_TEMPFAIL, NULL);
		goto done;
	}
	a = &m->auth_redeem_result;
	if (a->status != LOOKUP_OK) {
		log_warnx("mail process for %s: authd refused the token",
		    ms->ip);
		mail_answer(ms->id, a->status == LOOKUP_TEMPFAIL ?
		    MAIL_TEMPFAIL : MAIL_REFUSED, NULL);
		goto done;
	}
	if (imapd_conf->imap_max_per_user != 0 &&
	    mail_user_count(a->user) >= imapd_conf->imap_max_per_user) {
		log_info("%s %s from %s: %u sessions already, refused",
		    ms->proto == PROTO_IMAP ? "imap" : "pop3", a->user, ms->ip,
		    imapd_conf->imap_max_per_user);
		mail_answer(ms->id, MAIL_LIMIT, NULL);
		goto done;
	}
	if ((mp = calloc(1, sizeof(*mp))) == NULL) {
		log_warn("%s", __func__);
		mail_answer(ms->id, MAIL_TEMPFAIL, NULL);
		goto done;
	}
	switch (pid = fork()) {
	case -1:
		log_warn("fork");
		free(mp);
		mail_answer(ms->id, MAIL_TEMPFAIL, NULL);
		goto done;
	case 0:
		mail_child(ms, a);
		/* NOTREACHED */
	}
	mp->pid = pid;
	mp->proto = ms->proto;
	mp->since = time(NULL);
	strlcpy(mp->user, a->user, sizeof(mp->user));
	strlcpy(mp->ip, ms->ip, sizeof(mp->ip));
	TAILQ_INSERT_TAIL(&procs, mp, entry);
	stats_inc(ST_IMAP_SESSIONS, mp->proto);
	stats_inc(ST_IMAP_SESSIONS_TOTAL, mp->proto);
	log_info("%s login: user=%s ip=%s pid=%d",
	    ms->proto == PROTO_IMAP ? "imap" : "pop3", a->user, ms->ip,
	    (int)pid);
	mail_answer(ms->id, MAIL_OK, a->user);
 done:
	mail_start_free(ms);
}

int
mail_procs_reaped(pid_t pid, int status)
{
	struct mail_proc	*mp;

	TAILQ_FOREACH(mp, &procs, entry)
		if (mp->pid == pid)
			break;
	if (mp == NULL)
		return 0;
	stats_dec(ST_IMAP_SESSIONS, mp->proto);
	if (WIFSIGNALED(status)) {
		stats_inc(ST_IMAP_CRASHES, mp->proto);
		log_warnx("mail process %d (%s) killed by signal %d",
		    (int)pid, mp->user, WTERMSIG(status));
	}
	else if (WEXITSTATUS(status) != 0)
		log_warnx("mail process %d (%s) exited with status %d",
		    (int)pid, mp->user, WEXITSTATUS(status));
	else
		log_debug("mail process %d (%s) done", (int)pid, mp->user);
	TAILQ_REMOVE(&procs, mp, entry);
	free(mp);
	return 1;
}

void
mail_procs_walk(int (*fn)(const struct mail_proc_info *, void *), void *arg)
{
	struct mail_proc	*mp;
	struct mail_proc_info	 i;

	TAILQ_FOREACH(mp, &procs, entry) {
		i.pid = mp->pid;
		i.proto = mp->proto;
		i.since = mp->since;
		i.user = mp->user;
		i.ip = mp->ip;
		if (fn(&i, arg) == -1)
			break;
	}
}

/* SIGUSR1: the session says BYE (mail.c) and ends; reaped as usual. */
unsigned int
mail_procs_kick(const char *user)
{
	struct mail_proc	*mp;
	unsigned int		 n = 0;

	TAILQ_FOREACH(mp, &procs, entry)
		if (strcasecmp(mp->user, user) == 0 &&
		    kill(mp->pid, SIGUSR1) == 0)
			n++;
	if (n > 0)
		log_info("%s: %u session%s kicked by the administrator",
		    user, n, n == 1 ? "" : "s");
	return n;
}

/*
 * Shutdown: every session says BYE (mail.c's SIGTERM), and the login
 * process, still running, relays it; a second at most.
 */
void
mail_procs_stop(void)
{
	struct mail_proc	*mp;
	struct timespec		 tick = { 0, 50 * 1000 * 1000 };
	pid_t			 pid;
	int			 i, status;

	TAILQ_FOREACH(mp, &procs, entry)
		kill(mp->pid, SIGTERM);
	for (i = 0; i < 20 && !TAILQ_EMPTY(&procs); i++) {
		nanosleep(&tick, NULL);
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
			(void)mail_procs_reaped(pid, status);
	}
}
