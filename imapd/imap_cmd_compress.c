/*
 * COMPRESS (RFC 4978): DEFLATE, once per session.  The mail process
 * only runs after authentication, so the RFC's "not before login" is
 * the login process' "log in first".  The compression itself is in
 * mail_compress.c, under the session's I/O.
 */

#include <sys/types.h>

#include "log.h"
#include "imapd.h"

void
imap_cmd_compress(struct mail_session *s, struct imap_cmd *cmd)
{
	if (!imap_str_eq(&cmd->u.compress, "DEFLATE")) {
		imap_tagged(s, cmd, "BAD", "Unknown compression mechanism");
		return;
	}
	if (s->io.z != NULL) {
		imap_tagged(s, cmd, "NO", "[COMPRESSIONACTIVE] DEFLATE is "
		    "active already");
		return;
	}
	if (mio_compress_prepare(&s->io) == -1) {
		log_warnx("%s: COMPRESS: cannot set up zlib", s->user);
		imap_tagged(s, cmd, "NO", "[SERVERBUG] Cannot compress");
		return;
	}
	imap_tagged(s, cmd, "OK", "DEFLATE active");
	if (mio_compress_start(&s->io) == -1) {
		/* The client compresses from now on: nothing to say. */
		log_warnx("%s: COMPRESS: cannot start", s->user);
		s->logout = 1;
	}
}
