/*
 * A short conversation with an SMTP or LMTP server for tsambactl
 * health: connect (TCP or a UNIX socket), read replies, send commands,
 * and switch to TLS (libtls as the client).  The socket is non-blocking
 * and every wait is a poll(2) against one deadline per conversation, so
 * a listener that accepts and then says nothing costs at most
 * HEALTH_TIMEOUT_SEC.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <tls.h>

#include "ctl_health.h"

static void
conv_error(struct hconv *c, const char *fmt, ...)
    __attribute__((__format__ (printf, 2, 3)));

static void
conv_error(struct hconv *c, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	(void)vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
}

static int64_t
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for events on the socket until the deadline: 1, or 0 timed out. */
static int
conv_wait(struct hconv *c, short events)
{
	struct pollfd	 pfd;
	int64_t		 left;
	int		 r;

	for (;;) {
		if ((left = c->deadline - now_ms()) <= 0)
			return 0;
		pfd.fd = c->fd;
		pfd.events = events;
		if ((r = poll(&pfd, 1, (int)left)) == -1 && errno == EINTR)
			continue;
		return r > 0;
	}
}

static void
conv_init(struct hconv *c)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->deadline = now_ms() + HEALTH_TIMEOUT_SEC * 1000;
}

static int
conv_connect(struct hconv *c, int family, const struct sockaddr *sa,
    socklen_t salen)
{
	socklen_t	 len = sizeof(int);
	int		 soerr = 0;

	if ((c->fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1) {
		conv_error(c, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(c->fd, sa, salen) == 0)
		return 0;
	if (errno != EINPROGRESS && errno != EAGAIN) {
		conv_error(c, "connect: %s", strerror(errno));
		return -1;
	}
	if (!conv_wait(c, POLLOUT)) {
		conv_error(c, "connect: timed out after %ds",
		    HEALTH_TIMEOUT_SEC);
		return -1;
	}
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == -1 ||
	    soerr != 0) {
		conv_error(c, "connect: %s", strerror(soerr ? soerr : errno));
		return -1;
	}
	return 0;
}

int
hconv_tcp(struct hconv *c, const struct sockaddr *sa, socklen_t salen)
{
	conv_init(c);
	return conv_connect(c, sa->sa_family, sa, salen);
}

int
hconv_unix(struct hconv *c, const char *path)
{
	struct sockaddr_un	 sun;

	conv_init(c);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		conv_error(c, "%s: path too long", path);
		return -1;
	}
	return conv_connect(c, AF_UNIX, (struct sockaddr *)&sun,
	    sizeof(sun));
}

/* Bytes from the peer, plain or TLS: count, 0 at EOF, -1 on error. */
static ssize_t
conv_read(struct hconv *c, char *buf, size_t len)
{
	ssize_t	 n;

	for (;;) {
		if (c->tls != NULL) {
			n = tls_read(c->tls, buf, len);
			if (n == TLS_WANT_POLLIN || n == TLS_WANT_POLLOUT) {
				if (!conv_wait(c, n == TLS_WANT_POLLIN ?
				    POLLIN : POLLOUT))
					goto timeout;
				continue;
			}
			if (n == -1)
				conv_error(c, "TLS: %s", tls_error(c->tls));
			return n;
		}
		if ((n = read(c->fd, buf, len)) >= 0)
			return n;
		if (errno != EAGAIN && errno != EINTR) {
			conv_error(c, "read: %s", strerror(errno));
			return -1;
		}
		if (!conv_wait(c, POLLIN))
			goto timeout;
	}
 timeout:
	conv_error(c, "no answer within %ds", HEALTH_TIMEOUT_SEC);
	return -1;
}

int
hconv_send(struct hconv *c, const char *line)
{
	char	 buf[HCONV_LINE_MAX];
	size_t	 off = 0, len;
	ssize_t	 n;

	len = (size_t)snprintf(buf, sizeof(buf), "%s\r\n", line);
	if (len >= sizeof(buf)) {
		conv_error(c, "command too long");
		return -1;
	}
	while (off < len) {
		if (c->tls != NULL) {
			n = tls_write(c->tls, buf + off, len - off);
			if (n == TLS_WANT_POLLIN || n == TLS_WANT_POLLOUT) {
				if (!conv_wait(c, n == TLS_WANT_POLLIN ?
				    POLLIN : POLLOUT))
					goto timeout;
				continue;
			}
			if (n == -1) {
				conv_error(c, "TLS: %s", tls_error(c->tls));
				return -1;
			}
		} else if ((n = write(c->fd, buf + off, len - off)) == -1) {
			if (errno != EAGAIN && errno != EINTR) {
				conv_error(c, "write: %s", strerror(errno));
				return -1;
			}
			if (!conv_wait(c, POLLOUT))
				goto timeout;
			continue;
		}
		off += n;
	}
	return 0;
 timeout:
	conv_error(c, "cannot send within %ds", HEALTH_TIMEOUT_SEC);
	return -1;
}

int
hconv_line(struct hconv *c, char *line, size_t linesz)
{
	char	*nl;
	size_t	 n;
	ssize_t	 r;

	for (;;) {
		if ((nl = memchr(c->buf, '\n', c->len)) != NULL) {
			n = nl - c->buf;
			if (n > 0 && c->buf[n - 1] == '\r')
				n--;
			if (n >= linesz)
				n = linesz - 1;
			memcpy(line, c->buf, n);
			line[n] = '\0';
			n = nl + 1 - c->buf;
			memmove(c->buf, c->buf + n, c->len - n);
			c->len -= n;
			return 0;
		}
		if (c->len == sizeof(c->buf)) {
			conv_error(c, "reply line longer than %zu bytes",
			    sizeof(c->buf));
			return -1;
		}
		if ((r = conv_read(c, c->buf + c->len, sizeof(c->buf) -
		    c->len)) <= 0) {
			if (r == 0)
				conv_error(c, "connection closed");
			return -1;
		}
		c->len += r;
	}
}

int
hconv_reply(struct hconv *c, char *text, size_t textsz, const char *keyword,
    int *found)
{
	char	 line[HCONV_LINE_MAX];
	int	 code, nlines = 0;

	if (found != NULL)
		*found = 0;
	for (;;) {
		if (hconv_line(c, line, sizeof(line)) == -1)
			return -1;
		if (strlen(line) < 3 || line[0] < '2' || line[0] > '5' ||
		    line[1] < '0' || line[1] > '9' || line[2] < '0' ||
		    line[2] > '9' || (line[3] != '\0' && line[3] != ' ' &&
		    line[3] != '-')) {
			conv_error(c, "not an SMTP reply: \"%.60s\"", line);
			return -1;
		}
		code = (line[0] - '0') * 100 + (line[1] - '0') * 10 +
		    (line[2] - '0');
		/* The first line names the server: that is the text kept. */
		if (nlines++ == 0 && text != NULL)
			strlcpy(text, line, textsz);
		if (keyword != NULL && found != NULL && line[3] != '\0' &&
		    strncasecmp(line + 4, keyword, strlen(keyword)) == 0 &&
		    (line[4 + strlen(keyword)] == '\0' ||
		    line[4 + strlen(keyword)] == ' '))
			*found = 1;
		if (line[3] != '-')
			return code;
		if (nlines > 100) {
			conv_error(c, "reply of more than 100 lines");
			return -1;
		}
	}
}

int
hconv_starttls(struct hconv *c, struct tls_config *cfg,
    const char *servername)
{
	int	 r;

	if (c->len != 0) {
		/* RFC 3207 4: nothing may follow the 220 in the clear. */
		conv_error(c, "data sent after the 220 to STARTTLS");
		return -1;
	}
	if ((c->tls = tls_client()) == NULL) {
		conv_error(c, "tls_client failed");
		return -1;
	}
	if (tls_configure(c->tls, cfg) == -1 ||
	    tls_connect_socket(c->tls, c->fd, servername) == -1) {
		conv_error(c, "TLS: %s", tls_error(c->tls));
		return -1;
	}
	for (;;) {
		r = tls_handshake(c->tls);
		if (r == 0)
			return 0;
		if (r != TLS_WANT_POLLIN && r != TLS_WANT_POLLOUT) {
			conv_error(c, "TLS handshake: %s", tls_error(c->tls));
			return -1;
		}
		if (!conv_wait(c, r == TLS_WANT_POLLIN ? POLLIN : POLLOUT)) {
			conv_error(c, "TLS handshake: no answer within %ds",
			    HEALTH_TIMEOUT_SEC);
			return -1;
		}
	}
}

void
hconv_quit(struct hconv *c)
{
	if (c->fd == -1 || hconv_send(c, "QUIT") == -1)
		return;
	(void)hconv_reply(c, NULL, 0, NULL, NULL);
}

void
hconv_close(struct hconv *c)
{
	int	 r;

	if (c->tls != NULL) {
		/* close_notify both ways, within the deadline. */
		while ((r = tls_close(c->tls)) == TLS_WANT_POLLIN ||
		    r == TLS_WANT_POLLOUT)
			if (!conv_wait(c, r == TLS_WANT_POLLIN ? POLLIN :
			    POLLOUT))
				break;
		tls_free(c->tls);
		c->tls = NULL;
	}
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
}
