/*
 * After login the login process keeps the client's TLS layer (libtls
 * state cannot move to another process) and relays bytes both ways
 * between the client and the mail process' socketpair, without looking
 * at them.  Each direction stops reading while the other side has
 * LOGIN_RELAY_HIWAT bytes queued and resumes when they drained to half,
 * so a slow client or a busy mail process costs bounded memory.  When
 * the mail process ends (LOGOUT, QUIT, autologout or a crash) the rest
 * of its output goes to the client and the connection closes.
 */

#include <sys/types.h>

#include "io.h"
#include "log.h"
#include "imapd.h"

void
login_relay_start(struct login_session *s)
{
	io_set_lowat(s->io, LOGIN_RELAY_HIWAT / 2);
	io_set_lowat(s->mio, LOGIN_RELAY_HIWAT / 2);
	/* Idle sessions are most: their input buffers are not kept. */
	io_set_release(s->io);
	io_set_release(s->mio);
	io_resume_read(s->mio);
	io_resume_read(s->io);
	/* Commands pipelined behind the login go to the mail process. */
	login_relay_client(s);
}

void
login_relay_client(struct login_session *s)
{
	size_t	 n;

	if ((n = io_datalen(s->io)) == 0)
		return;
	if (io_write(s->mio, io_data(s->io), n) == -1) {
		login_session_close(s, "relay: cannot queue");
		return;
	}
	io_drain(s->io, n);
	if (io_queued(s->mio) > LOGIN_RELAY_HIWAT)
		io_pause_read(s->io);
}

static void
login_relay_mail(struct login_session *s)
{
	size_t	 n;

	if ((n = io_datalen(s->mio)) == 0)
		return;
	if (io_write(s->io, io_data(s->mio), n) == -1) {
		login_session_close(s, "relay: cannot queue");
		return;
	}
	io_drain(s->mio, n);
	if (io_queued(s->io) > LOGIN_RELAY_HIWAT)
		io_pause_read(s->mio);
}

void
login_io_mail(struct io *io, int event, void *arg)
{
	struct login_session	*s = arg;

	switch (event) {
	case IO_DATAIN:
		login_relay_mail(s);
		break;
	case IO_LOWAT:
		if (s->state == LS_RELAY)
			io_resume_read(s->io);
		break;
	case IO_DISCONNECTED:
		login_relay_mail(s);
		io_free(s->mio);
		s->mio = NULL;
		login_session_end(s);
		break;
	case IO_ERROR:
	default:
		log_warnx("[%s]: mail process: %s", s->ip, io_error(io));
		io_free(s->mio);
		s->mio = NULL;
		login_session_end(s);
		break;
	}
}
