/*
 * Unit test for lib/io.c: line splitting and limits, raw access, output
 * flushing and flow control, timeouts, EOF, freeing from the callback,
 * and TLS (with STARTTLS injection) over socketpairs in one event loop;
 * the blocking flush of a process about to exit;
 * also that a pause, a resume and a reply leave epoll alone.
 */

#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <tls.h>
#include <unistd.h>

#include "io.h"
#include "unit.h"

#define MAXLINES	4096

struct line {
	char	*s;
	size_t	 len;
	int	 toolong;
	int	 bare;
};

struct peer {
	struct io	*io;
	int		 raw;		/* don't split lines */
	int		 pause_after;	/* pause after this many lines */
	int		 free_on_data;
	struct line	 lines[MAXLINES];
	int		 nlines;
	int		 ndatain;
	int		 lowat;
	int		 timeout;
	int		 disconnected;
	int		 disc_after;	/* lines seen at disconnect */
	int		 error;
	int		 tlsready;
	/* STARTTLS scenario */
	struct tls	*tls_ctx;
	int		 starttls_server;
	int		 starttls_client;
	size_t		 datalen_after_starttls;
};

static int	 deadline_hit;
static int	 epoll_ctl_calls;

/*
 * Counts the changes libevent makes to what epoll watches: the
 * program's own definition comes before libc's for libevent too.
 */
int
epoll_ctl(int epfd, int op, int fd, struct epoll_event *event)
{
	static int	(*real)(int, int, int, struct epoll_event *);

	if (real == NULL &&
	    (*(void **)&real = dlsym(RTLD_NEXT, "epoll_ctl")) == NULL)
		abort();
	epoll_ctl_calls++;
	return (real(epfd, op, fd, event));
}

static void
deadline_cb(int fd, short ev, void *arg)
{
	deadline_hit = 1;
}

/* Run the loop until *flag >= want or msec pass. */
static int
run_until(int *flag, int want, int msec)
{
	struct event	 ev;
	struct timeval	 tv;

	deadline_hit = 0;
	evtimer_set(&ev, deadline_cb, NULL);
	tv.tv_sec = msec / 1000;
	tv.tv_usec = (msec % 1000) * 1000;
	evtimer_add(&ev, &tv);
	while ((flag == NULL || *flag < want) && !deadline_hit)
		event_loop(EVLOOP_ONCE);
	evtimer_del(&ev);
	return (flag == NULL || *flag >= want);
}

static void
peer_reset(struct peer *p)
{
	int	 i;

	for (i = 0; i < p->nlines; i++)
		free(p->lines[i].s);
	memset(p, 0, sizeof(*p));
}

static void
peer_lines(struct peer *p)
{
	struct line	*l;
	char		*s;
	size_t		 len;
	int		 toolong, bare;

	while ((s = io_getline(p->io, &len, &toolong, &bare)) != NULL) {
		if (p->nlines == MAXLINES)
			abort();
		l = &p->lines[p->nlines++];
		CHECK(s[len] == '\0');
		if ((l->s = malloc(len + 1)) == NULL)
			abort();
		memcpy(l->s, s, len + 1);
		l->len = len;
		l->toolong = toolong;
		l->bare = bare;
		if (p->starttls_server && strcmp(s, "STARTTLS") == 0) {
			io_print(p->io, "220 go ahead\r\n");
			CHECK(io_start_tls_server(p->io, p->tls_ctx) == 0);
			p->datalen_after_starttls = io_datalen(p->io);
			return;
		}
		if (p->starttls_client && strcmp(s, "220 go ahead") == 0) {
			CHECK(io_start_tls_client(p->io, p->tls_ctx,
			    "localhost") == 0);
			p->tls_ctx = NULL;	/* now owned by the io */
			return;
		}
		if (p->pause_after && p->nlines == p->pause_after) {
			io_pause_read(p->io);
			return;
		}
	}
}

static void
peer_cb(struct io *io, int event, void *arg)
{
	struct peer	*p = arg;

	switch (event) {
	case IO_DATAIN:
		p->ndatain++;
		if (p->free_on_data) {
			io_free(io);
			p->io = NULL;
			return;
		}
		if (!p->raw)
			peer_lines(p);
		break;
	case IO_LOWAT:
		p->lowat++;
		break;
	case IO_TIMEOUT:
		p->timeout++;
		break;
	case IO_DISCONNECTED:
		p->disconnected++;
		p->disc_after = p->nlines;
		break;
	case IO_ERROR:
		fprintf(stderr, "io error: %s\n", io_error(io));
		p->error++;
		break;
	case IO_TLSREADY:
		p->tlsready++;
		break;
	}
}

static int	 sv[2];

static struct io *
setup(struct peer *p)
{
	peer_reset(p);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1) {
		perror("socketpair");
		exit(1);
	}
	p->io = io_new(sv[0], peer_cb, p);
	CHECK(p->io != NULL);
	return (p->io);
}

static void
teardown(struct peer *p)
{
	if (p->io != NULL)
		io_free(p->io);
	p->io = NULL;
	close(sv[1]);
	peer_reset(p);
}

static void
put(const char *s)
{
	size_t	 len = strlen(s);

	if (write(sv[1], s, len) != (ssize_t)len)
		abort();
}

static void
test_split(void)
{
	struct peer	 p;

	memset(&p, 0, sizeof(p));
	setup(&p);
	put("HEL");
	run_until(&p.ndatain, 1, 1000);
	CHECK(p.nlines == 0);
	put("LO\r\nWOR");
	run_until(&p.nlines, 1, 1000);
	put("LD\n");
	run_until(&p.nlines, 2, 1000);
	CHECK(p.nlines == 2);
	CHECK(strcmp(p.lines[0].s, "HELLO") == 0 && p.lines[0].len == 5);
	CHECK(!p.lines[0].bare && !p.lines[0].toolong);
	CHECK(strcmp(p.lines[1].s, "WORLD") == 0 && p.lines[1].bare);
	put("a\rb\r\n\r\nc\r\r\n");
	run_until(&p.nlines, 5, 1000);
	CHECK(p.nlines == 5);
	CHECK(p.lines[2].len == 3 && p.lines[2].bare);
	CHECK(p.lines[3].len == 0 && !p.lines[3].bare);
	CHECK(p.lines[4].len == 2 && p.lines[4].bare);
	teardown(&p);
}

static void
test_toolong(void)
{
	struct peer	 p;
	char		*big;
	size_t		 bigsz = 300 * 1024, off = 0;
	ssize_t		 n;

	memset(&p, 0, sizeof(p));
	setup(&p);
	io_set_maxline(p.io, 10);
	/* exactly at the limit, with CR last, is not too long */
	put("0123456789\r");
	run_until(&p.ndatain, 1, 1000);
	CHECK(p.nlines == 0);
	put("\nok\r\n");
	run_until(&p.nlines, 2, 1000);
	CHECK(p.nlines == 2 && p.lines[0].len == 10 && !p.lines[0].toolong);
	/* too long, terminator in the same read */
	put("0123456789XYZ\r\nnext\r\n");
	run_until(&p.nlines, 4, 1000);
	CHECK(p.nlines == 4);
	CHECK(p.lines[2].toolong && p.lines[2].len == 10);
	CHECK(strcmp(p.lines[2].s, "0123456789") == 0);
	CHECK(strcmp(p.lines[3].s, "next") == 0 && !p.lines[3].toolong);
	/* too long, terminator in a later read */
	put("ABCDEFGHIJKLMNOP");
	run_until(&p.nlines, 5, 1000);
	CHECK(p.nlines == 5 && p.lines[4].toolong);
	CHECK(strcmp(p.lines[4].s, "ABCDEFGHIJ") == 0);
	put("more junk");
	run_until(NULL, 0, 50);
	CHECK(p.nlines == 5);
	CHECK(io_datalen(p.io) == 0);
	put("junk\r\nintact\r\n");
	run_until(&p.nlines, 6, 1000);
	CHECK(p.nlines == 6 && strcmp(p.lines[5].s, "intact") == 0);
	CHECK(!p.lines[5].toolong);

	/* a flood without newline: one truncated line, bounded buffer */
	io_set_maxline(p.io, 1000);
	if ((big = malloc(bigsz)) == NULL)
		abort();
	memset(big, 'x', bigsz);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	while (off < bigsz) {
		n = write(sv[1], big + off, bigsz - off);
		if (n > 0)
			off += n;
		run_until(NULL, 0, 5);
		CHECK(io_datalen(p.io) <= 64 * 1024);
	}
	put("\r\nend\r\n");
	run_until(&p.nlines, 8, 1000);
	CHECK(p.nlines == 8);
	CHECK(p.lines[6].toolong && p.lines[6].len == 1000);
	CHECK(strcmp(p.lines[7].s, "end") == 0);
	free(big);
	teardown(&p);
}

static void
test_raw(void)
{
	struct peer	 p;

	memset(&p, 0, sizeof(p));
	setup(&p);
	p.raw = 1;
	put("CHUNKDATA12");
	run_until(&p.ndatain, 1, 1000);
	CHECK(io_datalen(p.io) == 11);
	CHECK(memcmp(io_data(p.io), "CHUNKDATA12", 11) == 0);
	io_drain(p.io, 5);
	CHECK(io_datalen(p.io) == 6);
	CHECK(memcmp(io_data(p.io), "DATA12", 6) == 0);
	p.raw = 0;
	put("\r\n");
	run_until(&p.nlines, 1, 1000);
	CHECK(p.nlines == 1 && strcmp(p.lines[0].s, "DATA12") == 0);
	CHECK(io_datalen(p.io) == 0);
	io_drain(p.io, 100);		/* more than buffered: harmless */
	CHECK(io_datalen(p.io) == 0);
	teardown(&p);
}

static void
test_output(void)
{
	struct peer	 p;
	size_t		 total = 0, want;
	char		 buf[8192];
	ssize_t		 n;
	int		 i;

	memset(&p, 0, sizeof(p));
	setup(&p);
	for (i = 0; i < 2000; i++)
		CHECK(io_printf(p.io, "%04d %s\r\n", i,
		    "0123456789012345678901234567890123456789") == 47);
	CHECK(io_print(p.io, "x") == 0);
	CHECK(io_write(p.io, "yz", 2) == 0);
	want = 2000 * 47 + 3;
	CHECK(io_queued(p.io) == want);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	while (total < want) {
		run_until(NULL, 0, 5);
		while ((n = read(sv[1], buf, sizeof(buf))) > 0)
			total += n;
		if (deadline_hit && n == 0)
			break;
	}
	CHECK(total == want);
	run_until(&p.lowat, 1, 1000);
	CHECK(p.lowat >= 1);
	CHECK(io_queued(p.io) == 0);
	teardown(&p);
}

static size_t
queue_output(struct io *io, size_t size)
{
	char	 chunk[4096];
	size_t	 n;

	memset(chunk, 'o', sizeof(chunk));
	for (n = 0; n < size; n += sizeof(chunk))
		CHECK(io_write(io, chunk, sizeof(chunk)) == 0);
	return (n);
}

static long long
msec_since(const struct timespec *t0)
{
	struct timespec	 t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return ((t.tv_sec - t0->tv_sec) * 1000LL +
	    (t.tv_nsec - t0->tv_nsec) / 1000000);
}

/*
 * io_flush_until(), for a process about to exit: everything queued goes
 * out to a peer that reads late, without a callback; a peer that never
 * reads costs the deadline, no more.
 */
static void
test_flush_until(void)
{
	struct peer	 p;
	struct timespec	 t0, deadline;
	char		 buf[65536];
	size_t		 want, total = 0;
	ssize_t		 n;
	pid_t		 pid;
	int		 pfd[2], status;

	memset(&p, 0, sizeof(p));
	setup(&p);
	want = queue_output(p.io, 1024 * 1024);
	if (pipe(pfd) == -1 || (pid = fork()) == -1)
		abort();
	if (pid == 0) {
		/* The reader: late, then everything until EOF. */
		close(pfd[0]);
		close(sv[0]);
		usleep(200 * 1000);
		while ((n = read(sv[1], buf, sizeof(buf))) > 0)
			total += n;
		_exit(write(pfd[1], &total, sizeof(total)) ==
		    sizeof(total) ? 0 : 1);
	}
	close(pfd[1]);
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += 10;
	CHECK(io_flush_until(p.io, &deadline) == 0);
	CHECK(io_queued(p.io) == 0);
	CHECK(p.lowat == 0 && p.error == 0);
	io_free(p.io);
	p.io = NULL;
	CHECK(read(pfd[0], &total, sizeof(total)) == sizeof(total));
	CHECK(total == want);
	CHECK(waitpid(pid, &status, 0) == pid && status == 0);
	close(pfd[0]);
	teardown(&p);

	setup(&p);
	queue_output(p.io, 1024 * 1024);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	deadline = t0;
	deadline.tv_nsec += 300 * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	CHECK(io_flush_until(p.io, &deadline) == -1);
	CHECK(io_queued(p.io) > 0);
	CHECK(msec_since(&t0) >= 250 && msec_since(&t0) < 3000);
	teardown(&p);
}

static void
test_output_limit(void)
{
	struct peer	 p;
	char		 buf[65536];
	char		*big;
	size_t		 bigsz = 4 * 1024 * 1024;
	int		 i;

	memset(&p, 0, sizeof(p));
	setup(&p);
	io_set_output_limit(p.io, 1024);
	if ((big = calloc(1, bigsz)) == NULL)
		abort();
	io_write(p.io, big, bigsz);
	free(big);
	run_until(NULL, 0, 50);
	CHECK(io_queued(p.io) > 1024);
	put("pipelined\r\n");
	run_until(NULL, 0, 100);
	CHECK(p.nlines == 0);		/* reading paused */
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	for (i = 0; i < 2000 && p.nlines == 0; i++) {
		while (read(sv[1], buf, sizeof(buf)) > 0)
			;
		run_until(&p.nlines, 1, 5);
	}
	CHECK(p.nlines == 1 && strcmp(p.lines[0].s, "pipelined") == 0);
	teardown(&p);
}

static void
test_timeout(void)
{
	struct peer	 p;

	memset(&p, 0, sizeof(p));
	setup(&p);
	io_set_timeout(p.io, 100);
	put("x\r\n");
	run_until(&p.nlines, 1, 1000);
	CHECK(p.timeout == 0);
	run_until(&p.timeout, 1, 2000);
	CHECK(p.timeout == 1);
	CHECK(!p.disconnected && !p.error);
	io_set_timeout(p.io, 0);
	run_until(NULL, 0, 200);
	CHECK(p.timeout == 1);
	teardown(&p);
}

static void
test_eof(void)
{
	struct peer	 p;

	memset(&p, 0, sizeof(p));
	setup(&p);
	put("last\r\npartial");
	shutdown(sv[1], SHUT_WR);
	run_until(&p.disconnected, 1, 1000);
	CHECK(p.disconnected == 1);
	CHECK(p.disc_after == 1);
	CHECK(p.nlines == 1 && strcmp(p.lines[0].s, "last") == 0);
	run_until(NULL, 0, 50);
	CHECK(p.disconnected == 1);	/* once */
	teardown(&p);
}

static void
test_pause(void)
{
	struct peer	 p;

	memset(&p, 0, sizeof(p));
	setup(&p);
	p.pause_after = 1;
	put("one\r\ntwo\r\nthree\r\n");
	shutdown(sv[1], SHUT_WR);
	run_until(NULL, 0, 100);
	CHECK(p.nlines == 1);
	CHECK(p.disconnected == 0);	/* not while paused */
	p.pause_after = 0;
	io_resume_read(p.io);
	CHECK(p.nlines == 1);		/* delivered from the loop */
	run_until(&p.disconnected, 1, 1000);
	CHECK(p.nlines == 3 && strcmp(p.lines[2].s, "three") == 0);
	CHECK(p.disconnected == 1);
	teardown(&p);
}

static long
now_msec(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec * 1000L + ts.tv_nsec / 1000000);
}

/* Traffic keeps pushing the idle timeout back; silence ends it. */
static void
test_timeout_moves(void)
{
	struct peer	 p;
	long		 last;
	int		 i;

	memset(&p, 0, sizeof(p));
	setup(&p);
	io_set_timeout(p.io, 300);
	last = now_msec();
	for (i = 0; i < 6; i++) {
		put("x\r\n");
		last = now_msec();
		run_until(&p.nlines, i + 1, 1000);
		run_until(NULL, 0, 100);
	}
	CHECK(p.nlines == 6);
	CHECK(p.timeout == 0);
	/* Output counts as activity as well. */
	io_print(p.io, "y\r\n");
	last = now_msec();
	run_until(NULL, 0, 200);
	CHECK(p.timeout == 0);
	run_until(&p.timeout, 1, 2000);
	CHECK(p.timeout == 1);
	CHECKF(now_msec() - last >= 290, "timeout after %ld ms",
	    now_msec() - last);
	teardown(&p);
}

/*
 * The SMTP rhythm: a command, reading paused while the answer is
 * looked up, the reply queued from outside the io handler, reading
 * resumed.  None of it needs epoll to watch anything new.
 */
static void
test_quiet_rearm(void)
{
	struct peer	 p;
	char		 buf[64];
	int		 i, before;

	memset(&p, 0, sizeof(p));
	setup(&p);
	put("EHLO x\r\n");
	run_until(&p.nlines, 1, 1000);
	if (epoll_ctl_calls == 0 || strcmp(event_get_method(), "epoll")) {
		fprintf(stderr, "test_io: not on epoll, rearm test skipped\n");
		teardown(&p);
		return;
	}
	before = epoll_ctl_calls;
	for (i = 0; i < 50; i++) {
		io_pause_read(p.io);
		CHECK(io_print(p.io, "250 ok\r\n") == 0);
		run_until(&p.lowat, i + 1, 1000);
		CHECK(read(sv[1], buf, sizeof(buf)) == 8);
		io_resume_read(p.io);
		put("NOOP\r\n");
		run_until(&p.nlines, i + 2, 1000);
	}
	CHECK(p.nlines == 51 && p.lowat == 50);
	CHECKF(epoll_ctl_calls == before, "%d epoll_ctl calls for 50 "
	    "commands", epoll_ctl_calls - before);
	teardown(&p);
}

static void
test_free_in_cb(void)
{
	struct peer	 p;
	char		 c;

	memset(&p, 0, sizeof(p));
	setup(&p);
	p.free_on_data = 1;
	io_print(p.io, "pending output\r\n");
	put("hello\r\n");
	run_until(&p.ndatain, 1, 1000);
	CHECK(p.io == NULL);
	run_until(NULL, 0, 50);
	CHECK(p.ndatain == 1);
	/* the fd was closed: the other end sees EOF after any data */
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	while (read(sv[1], &c, 1) == 1)
		;
	CHECK(read(sv[1], &c, 1) == 0);
	teardown(&p);
}

/* TLS */

static char	 tmpdir[] = "/tmp/test_io.XXXXXX";
static char	 certpath[256], keypath[256];

static int
make_cert(void)
{
	char	 cmd[1024];

	if (mkdtemp(tmpdir) == NULL)
		return (-1);
	snprintf(certpath, sizeof(certpath), "%s/cert.pem", tmpdir);
	snprintf(keypath, sizeof(keypath), "%s/key.pem", tmpdir);
	snprintf(cmd, sizeof(cmd), "openssl req -x509 -newkey rsa:2048 "
	    "-nodes -days 1 -subj /CN=localhost -keyout %s -out %s "
	    ">/dev/null 2>&1", keypath, certpath);
	return (system(cmd) == 0 ? 0 : -1);
}

static void
remove_cert(void)
{
	unlink(certpath);
	unlink(keypath);
	rmdir(tmpdir);
}

static struct tls *
server_ctx(void)
{
	struct tls_config	*cfg;
	struct tls		*ctx;

	if ((cfg = tls_config_new()) == NULL)
		return (NULL);
	CHECK(tls_config_set_protocols(cfg, TLS_PROTOCOL_TLSv1_2 |
	    TLS_PROTOCOL_TLSv1_3) == 0);
	CHECK(tls_config_set_cert_file(cfg, certpath) == 0);
	CHECK(tls_config_set_key_file(cfg, keypath) == 0);
	if ((ctx = tls_server()) == NULL || tls_configure(ctx, cfg) == -1) {
		fprintf(stderr, "tls server: %s\n", ctx ? tls_error(ctx) :
		    "alloc");
		ctx = NULL;
	}
	tls_config_free(cfg);
	return (ctx);
}

static struct tls *
client_ctx(uint32_t protocols)
{
	struct tls_config	*cfg;
	struct tls		*ctx;

	if ((cfg = tls_config_new()) == NULL)
		return (NULL);
	CHECK(tls_config_set_protocols(cfg, protocols) == 0);
	tls_config_insecure_noverifycert(cfg);
	tls_config_insecure_noverifyname(cfg);
	if ((ctx = tls_client()) == NULL || tls_configure(ctx, cfg) == -1) {
		fprintf(stderr, "tls client: %s\n", ctx ? tls_error(ctx) :
		    "alloc");
		ctx = NULL;
	}
	tls_config_free(cfg);
	return (ctx);
}

/* Input that libtls decrypted but io could not take yet is not lost. */
static void
tls_raw_flood(struct peer *s, struct peer *c)
{
	char	*big;
	size_t	 bigsz = 300 * 1024, total = 0, n;
	int	 i;

	if ((big = malloc(bigsz)) == NULL)
		abort();
	memset(big, 'y', bigsz);
	s->raw = 1;
	io_write(c->io, big, bigsz);
	free(big);
	run_until(NULL, 0, 200);
	CHECK(io_datalen(s->io) == 64 * 1024);	/* full, reading paused */
	for (i = 0; i < 1000 && total < bigsz; i++) {
		n = io_datalen(s->io);
		total += n;
		io_drain(s->io, n);
		run_until(NULL, 0, 2);
	}
	total += io_datalen(s->io);
	io_drain(s->io, io_datalen(s->io));
	CHECK(total == bigsz);
	s->raw = 0;
}

/* Implicit TLS, but the peer speaks cleartext: an error, no hang. */
static void
test_tls_garbage(void)
{
	struct peer	 p;
	struct tls	*sctx;

	memset(&p, 0, sizeof(p));
	setup(&p);
	if ((sctx = server_ctx()) == NULL) {
		CHECK(0);
		teardown(&p);
		return;
	}
	io_set_timeout(p.io, 2000);
	CHECK(io_start_tls_server(p.io, sctx) == 0);
	CHECK(io_start_tls_server(p.io, sctx) == -1);	/* only once */
	put("EHLO plain text\r\n\r\n");
	run_until(&p.error, 1, 3000);
	CHECK(p.error == 1 && p.timeout == 0 && p.tlsready == 0);
	CHECK(!io_is_tls(p.io) && io_tls_info(p.io) == NULL);
	teardown(&p);
	tls_free(sctx);
}

static void
test_tls(uint32_t protocols, const char *version)
{
	struct peer	*s, *c;
	struct tls	*sctx;
	const char	*info;
	char		 line[128];
	int		 i, n = 2000, fds[2];

	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (c = calloc(1, sizeof(*c))) == NULL)
		abort();
	sctx = server_ctx();
	CHECK(sctx != NULL);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == -1)
		abort();
	s->io = io_new(fds[0], peer_cb, s);
	c->io = io_new(fds[1], peer_cb, c);
	s->tls_ctx = sctx;
	s->starttls_server = 1;
	c->tls_ctx = client_ctx(protocols);
	c->starttls_client = 1;
	CHECK(c->tls_ctx != NULL);
	CHECK(!io_is_tls(s->io) && io_tls_info(s->io) == NULL);

	/* RSET pipelined in clear behind STARTTLS must be dropped */
	io_print(c->io, "STARTTLS\r\nRSET\r\n");
	run_until(&s->tlsready, 1, 5000);
	run_until(&c->tlsready, 1, 5000);
	CHECK(s->tlsready == 1 && c->tlsready == 1);
	CHECK(s->datalen_after_starttls == 0);
	CHECK(s->nlines == 1);
	CHECK(io_is_tls(s->io) && io_is_tls(c->io));
	info = io_tls_info(s->io);
	CHECK(info != NULL && strncmp(info, version, strlen(version)) == 0);
	if (info)
		printf("server: %s\n", info);
	info = io_tls_info(c->io);
	CHECK(info != NULL && strncmp(info, "TLSv1.", 6) == 0);

	io_print(c->io, "EHLO over tls\r\n");
	run_until(&s->nlines, 2, 2000);
	CHECK(s->nlines == 2 && strcmp(s->lines[1].s, "EHLO over tls") == 0);
	io_print(s->io, "250 hello\r\n");
	run_until(&c->nlines, 2, 2000);
	CHECK(c->nlines == 2 && strcmp(c->lines[1].s, "250 hello") == 0);

	/* bulk both ways, more than any socket or record buffer */
	for (i = 0; i < n; i++) {
		snprintf(line, sizeof(line), "%05d %0100d\r\n", i, i);
		io_print(c->io, line);
		io_print(s->io, line);
	}
	run_until(&s->nlines, 2 + n, 5000);
	run_until(&c->nlines, 2 + n, 5000);
	CHECK(s->nlines == 2 + n && c->nlines == 2 + n);
	CHECK(strncmp(s->lines[1 + n].s, "01999 ", 6) == 0);
	CHECK(strncmp(c->lines[1 + n].s, "01999 ", 6) == 0);
	CHECK(!s->error && !c->error);
	tls_raw_flood(s, c);
	CHECK(!s->error && !c->error);

	/* client closes: server sees the end */
	io_free(c->io);
	c->io = NULL;
	run_until(&s->disconnected, 1, 2000);
	CHECK(s->disconnected == 1 || s->error == 1);
	io_free(s->io);
	s->io = NULL;
	tls_free(sctx);
	peer_reset(s);
	peer_reset(c);
	free(s);
	free(c);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	event_init();
	test_split();
	test_toolong();
	test_raw();
	test_output();
	test_flush_until();
	test_output_limit();
	test_timeout();
	test_eof();
	test_pause();
	test_timeout_moves();
	test_quiet_rearm();
	test_free_in_cb();
	if (make_cert() == 0) {
		test_tls(TLS_PROTOCOL_TLSv1_2 | TLS_PROTOCOL_TLSv1_3,
		    "TLSv1.3");
		test_tls(TLS_PROTOCOL_TLSv1_2, "TLSv1.2");
		test_tls_garbage();
		remove_cert();
	} else {
		fprintf(stderr, "openssl req failed\n");
		CHECK(0);
	}
	return (unit_done("test_io"));
}
