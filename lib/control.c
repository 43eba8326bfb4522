/*
 * A daemon's control socket (control.h): listening, accepting with the
 * SO_PEERCRED check and the client limit, closing.  What a request
 * means stays with the daemon.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <event.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "channel.h"
#include "control.h"
#include "imsg.h"
#include "log.h"
#include "unixsock.h"

static void
control_down(struct channel *ch, void *arg)
{
	control_close(arg);
}

static void
control_accepted(struct channel_server *srv, int fd,
    const struct ucred *cred, void *arg)
{
	struct control		*ctl = arg;
	struct control_client	*c;
	struct channel_cbs	 cbs = { .dispatch = ctl->request,
	    .down = control_down };
	struct ucred		 checked;

	if (unixsock_peer_check(fd, NULL, 0, "control", ctl->task,
	    &checked) == -1) {
		close(fd);
		return;
	}
	if (ctl->n >= CONTROL_CLIENTS_MAX ||
	    (c = calloc(1, sizeof(*c))) == NULL) {
		log_warnx("control: too many connections");
		close(fd);
		return;
	}
	c->ctl = ctl;
	c->uid = cred->uid;
	TAILQ_INSERT_TAIL(&ctl->clients, c, entry);
	ctl->n++;
	channel_init(&c->ch, "control", ctl->us, ctl->types, &cbs, c);
	channel_attach(&c->ch, fd);
}

void
control_listen(struct control *ctl, const char *path)
{
	if (strlcpy(ctl->path, path, sizeof(ctl->path)) >= sizeof(ctl->path))
		fatalx("control socket path too long: %s", path);
	ctl->fd = unixsock_listen(ctl->path, 0600, 8,
	    SOCK_NONBLOCK | SOCK_CLOEXEC);
}

void
control_start(struct control *ctl, int fd)
{
	TAILQ_INIT(&ctl->clients);
	if (fd == -1)
		fd = ctl->fd;
	else if (fcntl(fd, F_SETFL, O_NONBLOCK) == -1)
		fatal("fcntl control socket");
	ctl->fd = fd;
	channel_server_init(&ctl->server, fd, "control", control_accepted,
	    ctl);
}

void
control_send(struct control_client *c, struct ibuf *b)
{
	if (b == NULL)
		fatal("%s", __func__);
	if (channel_send(&c->ch, b) == -1)
		control_close(c);
}

void
control_done(struct control_client *c, uint64_t id, int failed,
    const char *msg)
{
	struct msg_ctl_done	 m = { .id = id, .failed = failed ? 1 : 0,
	    .message = msg };

	control_send(c, msg_ctl_done_pack(&m, -1));
}

void
control_close(struct control_client *c)
{
	if (c->dead)
		return;
	c->dead = 1;
	channel_close(&c->ch);
	TAILQ_REMOVE(&c->ctl->clients, c, entry);
	c->ctl->n--;
	channel_free_later(c);
}

void
control_shutdown(struct control *ctl)
{
	struct control_client	*c;

	if (ctl->path[0] == '\0')
		return;
	channel_server_close(&ctl->server);
	(void)unlink(ctl->path);
	while ((c = TAILQ_FIRST(&ctl->clients)) != NULL) {
		TAILQ_REMOVE(&ctl->clients, c, entry);
		channel_close(&c->ch);
		free(c);
	}
}
