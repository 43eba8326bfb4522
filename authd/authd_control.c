/*
 * authd.control.sock: tsambactl lists, adds and removes bans here.  The
 * socket is mode 0600 and SO_PEERCRED admits only root and authd's own
 * uid.  Requests: CTL_BAN_LIST (answered by one CTL_BAN_ENTRY per ban,
 * then CTL_DONE), CTL_BAN_ADD and CTL_BAN_DEL (answered by CTL_DONE).
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <event.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "imsg.h"
#include "unixsock.h"
#include "authd.h"

#define CONTROL_CLIENTS_MAX	16

struct ctl {
	TAILQ_ENTRY(ctl)	 entry;
	struct imsgev		 iev;
	uid_t			 uid;
	int			 hello;
	int			 dead;
};

static TAILQ_HEAD(, ctl)	 ctls = TAILQ_HEAD_INITIALIZER(ctls);
static size_t			 nctls;
static int			 ctl_fd = -1;
static struct event		 ctl_ev;
static char			 ctl_path[PATH_MAX];

static void
ctl_reap(int fd, short ev, void *arg)
{
	struct ctl	*c = arg;

	TAILQ_REMOVE(&ctls, c, entry);
	nctls--;
	free(c);
}

static void
ctl_close(struct ctl *c)
{
	struct timeval	 now = { 0, 0 };

	if (c->dead)
		return;
	c->dead = 1;
	imsgev_clear(&c->iev);
	if (event_once(-1, EV_TIMEOUT, ctl_reap, c, &now) == -1)
		fatal("event_once");
}

static void
ctl_send(struct ctl *c, struct ibuf *b, int rv)
{
	if (rv != 0) {
		ibuf_free(b);
		ctl_close(c);
		return;
	}
	if (imsgev_send(&c->iev, b) == -1)
		ctl_close(c);
}

static void
ctl_done(struct ctl *c, uint64_t id, int failed, const char *msg)
{
	struct ibuf	*b;
	int		 rv = 0;

	if ((b = imsg_create(IMSG_CTL_DONE, 0, -1)) == NULL)
		fatal("%s", __func__);
	rv |= ibuf_add_u64(b, id);
	rv |= ibuf_add_u8(b, failed ? 1 : 0);
	rv |= ibuf_add_str(b, msg);
	ctl_send(c, b, rv);
}

struct list_arg {
	struct ctl	*c;
	uint64_t	 id;
};

static int
ctl_entry(const struct ban_entry *e, void *arg)
{
	struct list_arg	*la = arg;
	struct ibuf	*b;
	int		 rv = 0;

	if (la->c->dead)
		return -1;
	if ((b = imsg_create(IMSG_CTL_BAN_ENTRY, 0, -1)) == NULL)
		fatal("%s", __func__);
	rv |= ibuf_add_u64(b, la->id);
	rv |= ibuf_add_str(b, e->ip);
	rv |= ibuf_add_u64(b, (uint64_t)e->end);
	rv |= ibuf_add_u32(b, e->failures);
	ctl_send(la->c, b, rv);
	return 0;
}

static void
ctl_request(struct ctl *c, struct imsg *imsg)
{
	struct list_arg	 la;
	char		 net[CONF_HOST_MAX], err[CONF_HOST_MAX + 64];
	uint64_t	 id, secs = 0;
	int		 rv;

	switch (imsg->hdr.type) {
	case IMSG_CTL_BAN_LIST:
		if (imsg_get_u64(imsg, &id) == -1 || imsg_get_end(imsg) == -1)
			goto bad;
		la.c = c;
		la.id = id;
		ban_walk(ctl_entry, &la);
		if (!c->dead)
			ctl_done(c, id, 0, "");
		break;
	case IMSG_CTL_BAN_ADD:
	case IMSG_CTL_BAN_DEL:
		if (imsg_get_u64(imsg, &id) == -1 ||
		    imsg_get_str(imsg, net, sizeof(net)) == -1 ||
		    (imsg->hdr.type == IMSG_CTL_BAN_ADD &&
		    imsg_get_u64(imsg, &secs) == -1) ||
		    imsg_get_end(imsg) == -1)
			goto bad;
		err[0] = '\0';
		if (imsg->hdr.type == IMSG_CTL_BAN_ADD)
			rv = ban_add(net, secs > INT32_MAX ? INT32_MAX :
			    (time_t)secs, err, sizeof(err));
		else
			rv = ban_del(net, err, sizeof(err));
		ctl_done(c, id, rv == -1, err);
		break;
	default:
		goto bad;
	}
	return;
 bad:
	log_warnx("control: malformed or unexpected imsg type %u, closed",
	    imsg->hdr.type);
	ctl_close(c);
}

static void
ctl_dispatch(struct imsgev *iev, struct imsg *imsg, void *arg)
{
	struct ctl	*c = arg;

	if (c->dead)
		return;
	if (imsg == NULL) {
		ctl_close(c);
		return;
	}
	if (imsg->fd != -1) {
		close(imsg->fd);
		imsg->fd = -1;
		log_warnx("control: unexpected descriptor, closed");
		ctl_close(c);
		return;
	}
	if (!c->hello) {
		if (imsg_check_hello(imsg, "authd control") == -1) {
			ctl_close(c);
			return;
		}
		c->hello = 1;
		return;
	}
	ctl_request(c, imsg);
}

static void
ctl_accept(int lfd, short ev, void *arg)
{
	struct ucred	 cred;
	struct ctl	*c;
	int		 fd;

	if ((fd = unixsock_accept(lfd, NULL, 0, "control", "control authd",
	    &cred)) == -1)
		return;
	if (nctls >= CONTROL_CLIENTS_MAX || (c = calloc(1, sizeof(*c))) ==
	    NULL) {
		log_warnx("control: too many connections");
		close(fd);
		return;
	}
	c->uid = cred.uid;
	TAILQ_INSERT_TAIL(&ctls, c, entry);
	nctls++;
	imsgev_init(&c->iev, fd, ctl_dispatch, c);
	if (imsg_send_hello(&c->iev.ibuf, "authd control") == -1) {
		ctl_close(c);
		return;
	}
	imsgev_update(&c->iev);
}

/* As root before the drop, like auth.sock, but mode 0600. */
void
control_listen(const struct conf *conf)
{
	conf_sockpath(conf, "authd.control.sock", ctl_path,
	    sizeof(ctl_path));
	ctl_fd = unixsock_listen(ctl_path, 0600, 8,
	    SOCK_NONBLOCK | SOCK_CLOEXEC);
}

void
control_start(void)
{
	event_set(&ctl_ev, ctl_fd, EV_READ | EV_PERSIST, ctl_accept, NULL);
	if (event_add(&ctl_ev, NULL) == -1)
		fatal("event_add");
}

void
control_shutdown(void)
{
	struct ctl	*c;

	event_del(&ctl_ev);
	close(ctl_fd);
	(void)unlink(ctl_path);
	while ((c = TAILQ_FIRST(&ctls)) != NULL) {
		TAILQ_REMOVE(&ctls, c, entry);
		if (!c->dead)
			imsgev_clear(&c->iev);
		free(c);
	}
}
