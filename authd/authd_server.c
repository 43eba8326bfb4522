/*
 * auth.sock: accepts the other daemons, checks who they are with
 * SO_PEERCRED, opens each channel with the hello handshake and answers
 * LOOKUP_RCPT and LOOKUP_USER.  A client that breaks the protocol is
 * logged and dropped; the others keep being served.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <limits.h>
#include <event.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "imsg.h"
#include "authd.h"

#define CLIENTS_MAX	1024
#define CLIENT_WQ_MAX	1024	/* answers queued for a peer not reading */

struct client {
	TAILQ_ENTRY(client)	 entry;
	struct imsgev		 iev;
	uid_t			 uid;
	pid_t			 pid;
	int			 hello;		/* handshake done */
	int			 dead;		/* freed on the next turn */
};

static TAILQ_HEAD(, client)	 clients = TAILQ_HEAD_INITIALIZER(clients);
static size_t			 nclients;
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
	imsgev_clear(&c->iev);
	if (event_once(-1, EV_TIMEOUT, client_reap, c, &now) == -1)
		fatal("event_once");
}

static int
peer_allowed(uid_t uid)
{
	size_t	 i;

	if (uid == 0 || uid == geteuid())
		return 1;
	for (i = 0; i < authd->npeer_uids; i++)
		if (authd->peer_uids[i] == uid)
			return 1;
	return 0;
}

/* A peer's string made fit for one log line. */
static const char *
printable(const char *s, char *buf, size_t bufsz)
{
	size_t	 i;

	for (i = 0; s[i] != '\0' && i + 1 < bufsz; i++)
		buf[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ?
		    '?' : s[i];
	buf[i] = '\0';
	return buf;
}

static void
reply_rcpt(struct client *c, uint64_t id, const char *address)
{
	static struct rcpt_results	 res;
	struct ibuf			*b;
	char				 vis[ADDR_MAX + 1];
	int				 status;
	size_t				 i;
	int				 rv = 0;

	status = lookup_rcpt(address, &res);
	log_debug("uid %d: rcpt %s: status %d, %zu recipients", (int)c->uid,
	    printable(address, vis, sizeof(vis)), status, res.n);
	if ((b = imsg_create(IMSG_AUTH_RCPT_RESULT, 0, -1)) == NULL)
		fatal("%s", __func__);
	rv |= ibuf_add_u64(b, id);
	rv |= ibuf_add_u8(b, status);
	rv |= ibuf_add_u32(b, res.n);
	for (i = 0; i < res.n; i++) {
		rv |= ibuf_add_str(b, res.r[i].mailbox);
		rv |= ibuf_add_u8(b, res.r[i].flags);
	}
	if (rv != 0 || imsgev_send(&c->iev, b) == -1) {
		/* lookup_rcpt keeps answers within one imsg. */
		log_warnx("uid %d: answer for %s does not fit", (int)c->uid,
		    printable(address, vis, sizeof(vis)));
		if (rv != 0)
			ibuf_free(b);
		client_close(c);
	}
}

static void
reply_user(struct client *c, uint64_t id, const char *mailbox)
{
	struct user_result	 ur;
	struct ibuf		*b;
	char			 vis[ADDR_MAX + 1];
	int			 status, rv = 0;

	status = lookup_user(mailbox, &ur);
	log_debug("uid %d: user %s: status %d, %s %d:%d", (int)c->uid,
	    printable(mailbox, vis, sizeof(vis)), status, ur.maildir,
	    (int)ur.uid, (int)ur.gid);
	if ((b = imsg_create(IMSG_AUTH_USER_RESULT, 0, -1)) == NULL)
		fatal("%s", __func__);
	rv |= ibuf_add_u64(b, id);
	rv |= ibuf_add_u8(b, status);
	rv |= ibuf_add_str(b, ur.maildir);
	rv |= ibuf_add_u32(b, ur.uid);
	rv |= ibuf_add_u32(b, ur.gid);
	rv |= ibuf_add_u64(b, ur.quota);
	if (rv != 0) {
		ibuf_free(b);
		log_warnx("uid %d: answer for %s does not fit", (int)c->uid,
		    printable(mailbox, vis, sizeof(vis)));
		client_close(c);
		return;
	}
	if (imsgev_send(&c->iev, b) == -1)
		client_close(c);
}

/* Both requests are "u64 id, str address"; 0 or -1 if malformed. */
static int
request_parse(struct imsg *imsg, uint64_t *id, char *addr, size_t addrsz)
{
	if (imsg->fd != -1)
		return -1;
	if (imsg_get_u64(imsg, id) == -1 ||
	    imsg_get_str(imsg, addr, addrsz) == -1 ||
	    imsg_get_end(imsg) == -1)
		return -1;
	return 0;
}

static void
client_request(struct client *c, struct imsg *imsg)
{
	/* Any str that fits an imsg: length limits are lookup's to judge. */
	static char	 addr[IMSG_MAXPAYLOAD + 1];
	uint64_t	 id;

	if (c->iev.ibuf.wqlen > CLIENT_WQ_MAX) {
		log_warnx("uid %d pid %d: not reading its answers, closed",
		    (int)c->uid, (int)c->pid);
		client_close(c);
		return;
	}
	switch (imsg->hdr.type) {
	case IMSG_AUTH_LOOKUP_RCPT:
	case IMSG_AUTH_LOOKUP_USER:
		if (request_parse(imsg, &id, addr, sizeof(addr)) == -1) {
			log_warnx("uid %d pid %d: malformed request of type "
			    "%u, closed", (int)c->uid, (int)c->pid,
			    imsg->hdr.type);
			client_close(c);
			return;
		}
		if (imsg->hdr.type == IMSG_AUTH_LOOKUP_RCPT)
			reply_rcpt(c, id, addr);
		else
			reply_user(c, id, addr);
		break;
	default:
		log_warnx("uid %d pid %d: unexpected imsg type %u, closed",
		    (int)c->uid, (int)c->pid, imsg->hdr.type);
		client_close(c);
	}
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

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("%s", __func__);
		close(fd);
		return;
	}
	c->uid = cred->uid;
	c->pid = cred->pid;
	TAILQ_INSERT_TAIL(&clients, c, entry);
	nclients++;
	imsgev_init(&c->iev, fd, client_dispatch, c);
	if (imsg_send_hello(&c->iev.ibuf, "authd") == -1) {
		log_warnx("uid %d: cannot queue hello", (int)c->uid);
		client_close(c);
		return;
	}
	imsgev_update(&c->iev);
	log_debug("uid %d pid %d: connected", (int)c->uid, (int)c->pid);
}

static void
server_accept(int lfd, short ev, void *arg)
{
	struct ucred	 cred;
	socklen_t	 len = sizeof(cred);
	int		 fd;

	if ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) ==
	    -1) {
		if (errno == EMFILE || errno == ENFILE) {
			log_warn("accept");
			accept_pause();
		} else if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED)
			log_warn("accept");
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		log_warn("SO_PEERCRED");
		close(fd);
		return;
	}
	if (!peer_allowed(cred.uid)) {
		log_warnx("connection from uid %d pid %d refused: not a "
		    "tsamba daemon", (int)cred.uid, (int)cred.pid);
		close(fd);
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
	struct sockaddr_un	 sun;
	struct stat		 st;
	mode_t			 old;

	if (stat(conf->rundir, &st) == -1 || !S_ISDIR(st.st_mode))
		fatalx("run directory %s is missing: it is created by whoever "
		    "starts tsamba-authd (systemd RuntimeDirectory=tsamba)",
		    conf->rundir);
	conf_sockpath(conf, "auth.sock", sockpath, sizeof(sockpath));
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (*sockpath == '\0' ||
	    strlcpy(sun.sun_path, sockpath, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path))
		fatalx("socket path in %s too long", conf->rundir);

	if (lstat(sockpath, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			fatalx("%s exists and is not a socket", sockpath);
		if (unlink(sockpath) == -1)
			fatal("unlink %s", sockpath);
	}
	if ((listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		fatal("socket");
	old = umask(0111);
	if (bind(listen_fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		fatal("bind %s", sockpath);
	umask(old);
	/* Who may ask is decided by SO_PEERCRED, not by the file mode. */
	if (chmod(sockpath, 0666) == -1)
		fatal("chmod %s", sockpath);
	if (listen(listen_fd, 128) == -1)
		fatal("listen %s", sockpath);
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
		if (!c->dead)
			imsgev_clear(&c->iev);
		free(c);
	}
	nclients = 0;
}
