/*
 * auth.sock: accepts the other daemons, checks who they are with
 * SO_PEERCRED, opens each channel with the hello handshake and answers
 * LOOKUP_RCPT, LOOKUP_USER, LOGIN, CHECK_SENDER and CHECK_BAN, each only
 * to the roles authd_role.c lets ask it; a peer asking outside its role
 * is logged and dropped, as a peer that breaks the protocol is.  All but
 * CHECK_BAN (and LOGIN from a banned address) go to the worker pool; the
 * answer goes back when the job is done, to the client if it is still
 * connected (clients are found again by serial number, never by a
 * pointer a worker may hold after the client left).  A client that
 * breaks the protocol is logged and dropped; the others keep being
 * served.
 *
 * A burst (many sessions, a slow database, a peer slow to read its
 * answers) is flow controlled, not dropped: while a client has
 * CLIENT_PENDING_MAX requests in the workers or answers not yet written
 * to it, its socket is not read, so the kernel buffer pushes back on the
 * sender, and reading resumes once half of them are through.  Answers
 * leaving the write queue are not seen from here, so a paused client is
 * also looked at on a short timer.  The hard cap CLIENT_WQ_MAX on queued
 * answers only bounds memory; flow control keeps a client below it.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <event.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "imsg.h"
#include "unixsock.h"
#include "stats.h"
#include "authd.h"

#define CLIENTS_MAX	1024
#define CLIENT_WQ_MAX	2048	/* answers queued for a peer not reading */
#define CLIENT_PENDING_MAX	1024	/* in the workers or queued: pause */
#define CLIENT_PENDING_LOW	(CLIENT_PENDING_MAX / 2)	/* resume */
#define CLIENT_RECHECK_MSEC	10	/* while paused */

struct client {
	TAILQ_ENTRY(client)	 entry;
	struct imsgev		 iev;
	uint64_t		 serial;	/* jobs find us by it */
	unsigned int		 inflight;	/* jobs in the workers */
	uid_t			 uid;
	pid_t			 pid;
	int			 hello;		/* handshake done */
	int			 paused;	/* too many pending */
	struct event		 recheck_ev;	/* while paused */
	int			 dead;		/* freed on the next turn */
};

static TAILQ_HEAD(, client)	 clients = TAILQ_HEAD_INITIALIZER(clients);
static size_t			 nclients;
static uint64_t			 next_serial = 1;
static int			 listen_fd = -1;
static struct event		 listen_ev;
static struct event		 pause_ev;
static char			 sockpath[PATH_MAX];

static void	client_dispatch(struct imsgev *, struct imsg *, void *);

/*
 * The imsgev still looks at itself after the handler returns, so a
 * client is closed at once but freed from a fresh turn of the loop.
 */
static void
client_reap(int fd, short ev, void *arg)
{
	struct client	*c = arg;

	TAILQ_REMOVE(&clients, c, entry);
	nclients--;
	free(c);
}

static void
client_close(struct client *c)
{
	struct timeval	 now = { 0, 0 };

	if (c->dead)
		return;
	c->dead = 1;
	evtimer_del(&c->recheck_ev);
	imsgev_clear(&c->iev);
	if (event_once(-1, EV_TIMEOUT, client_reap, c, &now) == -1)
		fatal("event_once");
}

const char *
printable(const char *s, char *buf, size_t bufsz)
{
	size_t	 i;

	for (i = 0; s[i] != '\0' && i + 1 < bufsz; i++)
		buf[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ?
		    '?' : s[i];
	buf[i] = '\0';
	return buf;
}

static struct client *
client_find(uint64_t serial)
{
	struct client	*c;

	TAILQ_FOREACH(c, &clients, entry)
		if (c->serial == serial)
			return c->dead ? NULL : c;
	return NULL;
}

static void
client_send(struct client *c, struct ibuf *b, int rv, const char *what)
{
	if (rv != 0) {
		ibuf_free(b);
		log_warnx("uid %d: %s answer does not fit", (int)c->uid, what);
		client_close(c);
		return;
	}
	if (imsgev_send(&c->iev, b) == -1)
		client_close(c);
}

static void
job_free(struct job *j)
{
	free(j->rcpt);
	free(j->user);
	explicit_bzero(j, sizeof(*j));
	free(j);
}

/* Requests taken from the client and not yet written back. */
static size_t
client_pending(struct client *c)
{
	return c->inflight + c->iev.ibuf.wqlen;
}

static void
client_recheck_start(struct client *c)
{
	struct timeval	 tv = { 0, CLIENT_RECHECK_MSEC * 1000 };

	evtimer_add(&c->recheck_ev, &tv);
}

/* Stop reading a client that has enough pending for now. */
static void
client_throttle(struct client *c)
{
	if (c->paused || client_pending(c) < CLIENT_PENDING_MAX)
		return;
	log_debug("uid %d pid %d: %zu requests pending, not reading until "
	    "some are answered", (int)c->uid, (int)c->pid,
	    client_pending(c));
	c->paused = 1;
	imsgev_pause(&c->iev);
	client_recheck_start(c);
}

static void
client_unthrottle(struct client *c)
{
	if (!c->paused || client_pending(c) > CLIENT_PENDING_LOW)
		return;
	c->paused = 0;
	evtimer_del(&c->recheck_ev);
	imsgev_resume(&c->iev);
}

static void
client_recheck(int fd, short ev, void *arg)
{
	struct client	*c = arg;

	client_unthrottle(c);
	if (c->paused)
		client_recheck_start(c);
}

/* The job is over: answer its client if it is still there. */
static struct client *
job_client(struct job *j)
{
	struct client	*c;

	if ((c = client_find(j->client)) == NULL)
		return NULL;
	c->inflight--;
	client_unthrottle(c);
	return c;
}

static void
rcpt_run(struct job *j)
{
	j->status = lookup_rcpt(j->arg1, j->rcpt);
}

static void
rcpt_done(struct job *j)
{
	struct client	*c;
	struct ibuf	*b;
	char		 vis[ADDR_MAX + 1];
	size_t		 i;
	int		 rv = 0;

	if ((c = job_client(j)) != NULL) {
		log_debug("uid %d: rcpt %s: status %d, %zu recipients",
		    (int)c->uid, printable(j->arg1, vis, sizeof(vis)),
		    j->status, j->rcpt->n);
		if ((b = imsg_create(IMSG_AUTH_RCPT_RESULT, 0, -1)) == NULL)
			fatal("%s", __func__);
		rv |= ibuf_add_u64(b, j->id);
		rv |= ibuf_add_u8(b, j->status);
		rv |= ibuf_add_u32(b, j->rcpt->n);
		for (i = 0; i < j->rcpt->n; i++) {
			rv |= ibuf_add_str(b, j->rcpt->r[i].mailbox);
			rv |= ibuf_add_u8(b, j->rcpt->r[i].flags);
		}
		client_send(c, b, rv, "rcpt");
	}
	job_free(j);
}

static void
user_run(struct job *j)
{
	j->status = lookup_user(j->arg1, j->user);
}

static void
user_done(struct job *j)
{
	struct client		*c;
	struct user_result	*ur = j->user;
	struct ibuf		*b;
	char			 vis[ADDR_MAX + 1];
	int			 rv = 0;

	if ((c = job_client(j)) != NULL) {
		log_debug("uid %d: user %s: status %d, %s %d:%d",
		    (int)c->uid, printable(j->arg1, vis, sizeof(vis)),
		    j->status, ur->maildir, (int)ur->uid, (int)ur->gid);
		if ((b = imsg_create(IMSG_AUTH_USER_RESULT, 0, -1)) == NULL)
			fatal("%s", __func__);
		rv |= ibuf_add_u64(b, j->id);
		rv |= ibuf_add_u8(b, j->status);
		rv |= ibuf_add_str(b, ur->maildir);
		rv |= ibuf_add_u32(b, ur->uid);
		rv |= ibuf_add_u32(b, ur->gid);
		rv |= ibuf_add_u64(b, ur->quota);
		client_send(c, b, rv, "user");
	}
	job_free(j);
}

static void
login_reply(struct client *c, uint64_t id, int status, const char *canon)
{
	struct ibuf	*b;
	int		 rv = 0;

	if ((b = imsg_create(IMSG_AUTH_LOGIN_RESULT, 0, -1)) == NULL)
		fatal("%s", __func__);
	rv |= ibuf_add_u64(b, id);
	rv |= ibuf_add_u8(b, status);
	rv |= ibuf_add_str(b, status == AUTH_OK ? canon : "");
	client_send(c, b, rv, "login");
}

static void
login_run(struct job *j)
{
	j->status = lookup_login(j->arg1, j->arg2, j->arg2len, j->canon,
	    sizeof(j->canon), &j->reason);
	explicit_bzero(j->arg2, sizeof(j->arg2));
}

static void
login_done(struct job *j)
{
	struct client	*c;
	char		 vis[ADDR_MAX + 1];

	c = job_client(j);
	stats_inc(j->status == AUTH_OK ? ST_AUTH_OK : j->status == AUTH_FAIL ?
	    ST_AUTH_FAIL : ST_AUTH_TEMPFAIL, stats_label_index(SL_SERVICE,
	    j->service));
	if (j->status == AUTH_FAIL)
		ban_failure(j->service, j->arg1, j->ip,
		    j->reason == LOGIN_REASON_PASSWORD ? "password" :
		    j->reason == LOGIN_REASON_SCHEME ? "bad-scheme" :
		    "unknown-user");
	else if (j->status == AUTH_OK)
		log_info("auth ok: service=%s user=%s ip=%s", j->service,
		    j->canon, j->ip[0] != '\0' ? j->ip : "unknown");
	else
		log_warnx("auth tempfail: service=%s user=%s ip=%s",
		    j->service, printable(j->arg1, vis, sizeof(vis)),
		    j->ip[0] != '\0' ? j->ip : "unknown");
	if (c != NULL)
		login_reply(c, j->id, j->status, j->canon);
	job_free(j);
}

static void
sender_run(struct job *j)
{
	j->status = lookup_sender(j->arg1, j->arg2);
}

static void
sender_done(struct job *j)
{
	struct client	*c;
	struct ibuf	*b;
	int		 rv = 0;

	if ((c = job_client(j)) != NULL) {
		if ((b = imsg_create(IMSG_AUTH_SENDER_RESULT, 0, -1)) == NULL)
			fatal("%s", __func__);
		rv |= ibuf_add_u64(b, j->id);
		rv |= ibuf_add_u8(b, j->status);
		client_send(c, b, rv, "sender");
	}
	job_free(j);
}

static void
reply_ban(struct client *c, uint64_t id, const char *ip)
{
	struct ibuf	*b;
	time_t		 end;
	int		 banned, rv = 0;

	banned = ban_check(ip, &end);
	if ((b = imsg_create(IMSG_AUTH_BAN_RESULT, 0, -1)) == NULL)
		fatal("%s", __func__);
	rv |= ibuf_add_u64(b, id);
	rv |= ibuf_add_u8(b, banned);
	rv |= ibuf_add_u64(b, banned ? (uint64_t)end : 0);
	client_send(c, b, rv, "ban");
}

static struct job *
job_new(struct client *c, uint64_t id, uint32_t type, job_fn run,
    job_fn done)
{
	struct job	*j;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		return NULL;
	j->client = c->serial;
	j->id = id;
	j->type = type;
	j->run = run;
	j->done = done;
	return j;
}

/*
 * A string of the request into a job field: one that does not fit is
 * not an address or password anyone has, so it is answered as unknown
 * by truncating to an invalid value (an empty string).
 */
static int
get_field(struct imsg *imsg, char *dst, size_t dstsz)
{
	static char	 tmp[IMSG_MAXPAYLOAD + 1];

	if (imsg_get_str(imsg, tmp, sizeof(tmp)) == -1)
		return -1;
	if (strlcpy(dst, tmp, dstsz) >= dstsz)
		dst[0] = '\0';
	explicit_bzero(tmp, sizeof(tmp));
	return 0;
}

static int
request_parse(struct client *c, struct imsg *imsg, struct job **jp)
{
	struct job	*j;
	uint64_t	 id;
	uint32_t	 type = imsg->hdr.type;
	char		 ip[64], vis[ADDR_MAX + 1];
	time_t		 end;

	*jp = NULL;
	if (imsg_get_u64(imsg, &id) == -1)
		return -1;
	if (type == IMSG_AUTH_CHECK_BAN) {
		if (get_field(imsg, ip, sizeof(ip)) == -1 ||
		    imsg_get_end(imsg) == -1)
			return -1;
		reply_ban(c, id, ip);
		return 0;
	}
	switch (type) {
	case IMSG_AUTH_LOOKUP_RCPT:
		j = job_new(c, id, type, rcpt_run, rcpt_done);
		if (j != NULL && (j->rcpt = malloc(sizeof(*j->rcpt))) == NULL)
			goto nomem;
		break;
	case IMSG_AUTH_LOOKUP_USER:
		j = job_new(c, id, type, user_run, user_done);
		if (j != NULL && (j->user = malloc(sizeof(*j->user))) == NULL)
			goto nomem;
		break;
	case IMSG_AUTH_LOGIN:
		j = job_new(c, id, type, login_run, login_done);
		break;
	case IMSG_AUTH_CHECK_SENDER:
		j = job_new(c, id, type, sender_run, sender_done);
		break;
	default:
		return -1;
	}
	if (j == NULL)
		goto nomem;
	*jp = j;
	if (get_field(imsg, j->arg1, sizeof(j->arg1)) == -1)
		return -1;
	if (type == IMSG_AUTH_LOOKUP_RCPT || type == IMSG_AUTH_LOOKUP_USER)
		return imsg_get_end(imsg);
	if (get_field(imsg, j->arg2, sizeof(j->arg2)) == -1)
		return -1;
	j->arg2len = strlen(j->arg2);
	if (type == IMSG_AUTH_CHECK_SENDER)
		return imsg_get_end(imsg);
	if (get_field(imsg, j->ip, sizeof(j->ip)) == -1 ||
	    get_field(imsg, j->service, sizeof(j->service)) == -1 ||
	    imsg_get_end(imsg) == -1)
		return -1;
	if (j->service[0] == '\0')
		strlcpy(j->service, "unknown", sizeof(j->service));
	if (ban_check(j->ip, &end)) {
		ban_failure(j->service, j->arg1, j->ip, "banned");
		login_reply(c, id, AUTH_BANNED, "");
		log_debug("uid %d: login %s refused: banned", (int)c->uid,
		    printable(j->arg1, vis, sizeof(vis)));
		job_free(j);
		*jp = NULL;
	}
	return 0;
 nomem:
	log_warn("%s", __func__);
	if (j != NULL)
		job_free(j);
	*jp = NULL;
	return -2;
}

static void
client_request(struct client *c, struct imsg *imsg)
{
	struct job	*j;
	int		 rv;

	if (c->iev.ibuf.wqlen > CLIENT_WQ_MAX) {
		log_warnx("uid %d pid %d: not reading its answers, closed",
		    (int)c->uid, (int)c->pid);
		client_close(c);
		return;
	}
	/* A question outside the peer's role: a bug or a break-in. */
	if (!role_may_ask(c->uid, c->pid, imsg->hdr.type)) {
		client_close(c);
		return;
	}
	rv = request_parse(c, imsg, &j);
	if (rv == -2) {
		client_close(c);
		return;
	}
	if (rv == -1) {
		log_warnx("uid %d pid %d: malformed request of type %u, "
		    "closed", (int)c->uid, (int)c->pid, imsg->hdr.type);
		if (j != NULL)
			job_free(j);
		client_close(c);
		return;
	}
	if (j != NULL) {
		c->inflight++;
		worker_submit(j);
	}
	client_throttle(c);
}

static void
client_dispatch(struct imsgev *iev, struct imsg *imsg, void *arg)
{
	struct client	*c = arg;

	if (c->dead)
		return;
	if (imsg == NULL) {
		log_debug("uid %d pid %d: closed", (int)c->uid, (int)c->pid);
		client_close(c);
		return;
	}
	if (imsg->fd != -1) {
		close(imsg->fd);
		imsg->fd = -1;
		log_warnx("uid %d pid %d: unexpected descriptor, closed",
		    (int)c->uid, (int)c->pid);
		client_close(c);
		return;
	}
	if (!c->hello) {
		if (imsg_check_hello(imsg, "authd") == -1) {
			client_close(c);
			return;
		}
		c->hello = 1;
		return;
	}
	client_request(c, imsg);
}

static void
accept_resume(int fd, short ev, void *arg)
{
	if (event_add(&listen_ev, NULL) == -1)
		fatal("event_add");
}

static void
accept_pause(void)
{
	struct timeval	 tv = { 1, 0 };

	event_del(&listen_ev);
	evtimer_set(&pause_ev, accept_resume, NULL);
	evtimer_add(&pause_ev, &tv);
}

static void
client_new(int fd, const struct ucred *cred)
{
	struct client	*c;
	char		 names[64];

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("%s", __func__);
		close(fd);
		return;
	}
	c->uid = cred->uid;
	c->pid = cred->pid;
	c->serial = next_serial++;
	evtimer_set(&c->recheck_ev, client_recheck, c);
	TAILQ_INSERT_TAIL(&clients, c, entry);
	nclients++;
	imsgev_init(&c->iev, fd, client_dispatch, c);
	if (imsg_send_hello(&c->iev.ibuf, "authd") == -1) {
		log_warnx("uid %d: cannot queue hello", (int)c->uid);
		client_close(c);
		return;
	}
	imsgev_update(&c->iev);
	/* Once per channel: the engines keep theirs open. */
	log_info("uid %u pid %d (role %s) connected", (unsigned)c->uid,
	    (int)c->pid, role_names(c->uid, names, sizeof(names)));
}

static void
server_accept(int lfd, short ev, void *arg)
{
	struct ucred	 cred;
	const uid_t	*uids;
	size_t		 nuids;
	int		 fd;

	uids = role_peer_uids(&nuids);
	if ((fd = unixsock_accept(lfd, uids, nuids, "auth.sock", "ask authd",
	    &cred)) == -1) {
		if (errno == EMFILE || errno == ENFILE)
			accept_pause();
		return;
	}
	if (nclients >= CLIENTS_MAX) {
		log_warnx("connection from uid %d pid %d refused: %d "
		    "clients", (int)cred.uid, (int)cred.pid, CLIENTS_MAX);
		close(fd);
		return;
	}
	client_new(fd, &cred);
}

/* As root, before the privilege drop: the socket is ours to create. */
void
server_listen(const struct conf *conf)
{
	struct stat	 st;

	if (stat(conf->rundir, &st) == -1 || !S_ISDIR(st.st_mode))
		fatalx("run directory %s is missing: it is created by whoever "
		    "starts tsamba-authd (systemd RuntimeDirectory=tsamba)",
		    conf->rundir);
	conf_sockpath(conf, "auth.sock", sockpath, sizeof(sockpath));
	/* Who may ask is decided by SO_PEERCRED, not by the file mode. */
	listen_fd = unixsock_listen(sockpath, 0666, 128,
	    SOCK_NONBLOCK | SOCK_CLOEXEC);
}

void
server_start(void)
{
	event_set(&listen_ev, listen_fd, EV_READ | EV_PERSIST, server_accept,
	    NULL);
	if (event_add(&listen_ev, NULL) == -1)
		fatal("event_add");
	log_info("listening on %s", sockpath);
}

void
server_shutdown(void)
{
	struct client	*c;

	event_del(&listen_ev);
	close(listen_fd);
	/* May fail in a root-owned rundir; the next start unlinks it. */
	(void)unlink(sockpath);
	while ((c = TAILQ_FIRST(&clients)) != NULL) {
		TAILQ_REMOVE(&clients, c, entry);
		if (!c->dead) {
			evtimer_del(&c->recheck_ev);
			imsgev_clear(&c->iev);
		}
		free(c);
	}
	nclients = 0;
}
