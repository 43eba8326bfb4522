/*
 * The HTTP side of tsamba-metricsd: one request per connection, read
 * into a bounded buffer, answered, then the connection is closed
 * (Connection: close).  GET and HEAD of /metrics give the exposition;
 * anything else a short error.  The close lingers (RFC 9112 9.6): once
 * the answer is out, our side is shut down and what the client still
 * sends is read and dropped until it closes or LINGER_MS pass, so that
 * an early answer (431 to a request still arriving) is not lost to a
 * reset.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "listener.h"
#include "log.h"
#include "http_parse.h"
#include "metricsd.h"

#define CONTENT_TYPE	"text/plain; version=0.0.4; charset=utf-8"
#define LINGER_MS	2000

struct http_session {
	TAILQ_ENTRY(http_session) entry;
	struct io		*io;
	int			 fd;		/* io's, for shutdown(2) */
	int			 closing;	/* answer queued */
	int			 lingering;	/* answer out, reading to EOF */
};

static TAILQ_HEAD(, http_session) sessions =
    TAILQ_HEAD_INITIALIZER(sessions);
static unsigned int	 nsessions;
static int		 stats_dirfd = -1;

static void	http_io(struct io *, int, void *);

void
http_init(int statsdir)
{
	stats_dirfd = statsdir;
}

static void
http_free(struct http_session *s)
{
	TAILQ_REMOVE(&sessions, s, entry);
	io_free(s->io);
	free(s);
	nsessions--;
	listener_fd_freed();
}

void
http_accept(int fd)
{
	struct http_session	*s;

	if (nsessions >= METRICS_SESSIONS_MAX) {
		log_warnx("metrics: %d scrapes at once, one refused",
		    METRICS_SESSIONS_MAX);
		close(fd);
		return;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		log_warn("metrics: calloc");
		close(fd);
		return;
	}
	if ((s->io = io_new(fd, http_io, s)) == NULL) {
		log_warn("metrics: io_new");
		close(fd);
		free(s);
		return;
	}
	s->fd = fd;
	io_set_timeout(s->io, METRICS_TIMEOUT_MS);
	TAILQ_INSERT_TAIL(&sessions, s, entry);
	nsessions++;
}

static const char *
status_text(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 414:
		return "URI Too Long";
	case 431:
		return "Request Header Fields Too Large";
	case 501:
		return "Not Implemented";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return "Internal Server Error";
	}
}

/* Queue the answer; the connection closes once it is out. */
static void
http_respond(struct http_session *s, int status, const char *type,
    const char *body, size_t len, int head)
{
	io_printf(s->io, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n%s\r\n", status,
	    status_text(status), type, len,
	    status == 405 ? "Allow: GET, HEAD\r\n" : "");
	if (!head && len > 0)
		io_write(s->io, body, len);
	s->closing = 1;
}

/* The answer is out: shut our side, wait for the client's. */
static void
http_linger(struct http_session *s)
{
	if (s->lingering)
		return;
	s->lingering = 1;
	if (shutdown(s->fd, SHUT_WR) == -1) {
		http_free(s);
		return;
	}
	io_set_timeout(s->io, LINGER_MS);
}

static void
http_error(struct http_session *s, int status, int head)
{
	char	 body[128];
	int	 n;

	n = snprintf(body, sizeof(body), "%d %s\n", status,
	    status_text(status));
	http_respond(s, status, "text/plain; charset=utf-8", body, n, head);
}

static void
http_request(struct http_session *s, const struct http_request *req)
{
	char	*text;
	size_t	 len;
	int	 head = strcmp(req->method, "HEAD") == 0;

	if (strcmp(req->method, "GET") != 0 && !head) {
		http_error(s, 405, 0);
		return;
	}
	if (strcmp(req->path, "/metrics") != 0) {
		http_error(s, 404, head);
		return;
	}
	if ((text = metrics_render(stats_dirfd, &len)) == NULL) {
		http_error(s, 500, head);
		return;
	}
	http_respond(s, 200, CONTENT_TYPE, text, len, head);
	free(text);
}

static void
http_input(struct http_session *s)
{
	struct http_request	 req;
	int			 status;

	if (s->closing) {
		io_drain(s->io, io_datalen(s->io));
		return;
	}
	status = http_parse(io_data(s->io), io_datalen(s->io), &req);
	if (status == 0)
		return;		/* more to come */
	if (status != 200) {
		log_info("metrics: bad request (%d)", status);
		http_error(s, status, 0);
		return;
	}
	http_request(s, &req);
}

static void
http_io(struct io *io, int event, void *arg)
{
	struct http_session	*s = arg;

	switch (event) {
	case IO_DATAIN:
		http_input(s);
		break;
	case IO_LOWAT:
		if (s->closing && io_queued(s->io) == 0)
			http_linger(s);
		break;
	case IO_TIMEOUT:
	case IO_DISCONNECTED:
	case IO_ERROR:
	default:
		http_free(s);
		break;
	}
}
