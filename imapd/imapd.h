/*
 * tsamba-imapd: the declarations shared by the files of the IMAP and
 * POP3 server.  Three kinds of process (DESIGN.md):
 *
 * - the parent (imapd.c, imapd_mail.c, imapd_control.c), root: binds
 *   the listeners, feeds the key process and the login process, redeems
 *   login tokens with authd, forks one mail process per session and
 *   answers tsambactl who and kick;
 * - the login process (login.c, login_session.c, login_imap.c,
 *   login_pop3.c, login_relay.c), its own user in the empty chroot: TLS
 *   with the certificate only, everything before authentication, then
 *   the relay of bytes between the TLS client and the mail process;
 * - the mail process (mail.c, mail_io.c, imap_session.c, imap_cmd_*.c,
 *   pop3_session.c), the mailbox owner chrooted into the user's mail
 *   home: one authenticated session, blocking I/O on its socketpair.
 *
 * The storage (mailbox.c, uidlist.c, ...) and the parsers (imap_parse.c,
 * pop3_parse.c, mime*.c) have their own headers.
 */

#ifndef TSAMBA_IMAPD_H
#define TSAMBA_IMAPD_H

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "channel.h"
#include "conf.h"
#include "proto.h"

#include "mailbox.h"
#include "folder.h"
#include "imap_parse.h"

#define PROTO_IMAP	0
#define PROTO_POP3	1

/* Replies of the pre-auth side and the mail side. */
#define IMAP_CAPA_PREAUTH	"IMAP4rev1 SASL-IR LITERAL+ ID " \
				"IMAP4rev2 UTF8=ACCEPT"
#define IMAP_CAPA_MAIL		"IMAP4rev1 SASL-IR LITERAL+ ID UNSELECT " \
				"NAMESPACE UIDPLUS IDLE MOVE " \
				"ENABLE CONDSTORE QRESYNC ESEARCH SEARCHRES " \
				"QUOTA QUOTA=RES-STORAGE QUOTA=RES-MESSAGE " \
				"LIST-EXTENDED LIST-STATUS SPECIAL-USE " \
				"CREATE-SPECIAL-USE CHILDREN STATUS=SIZE " \
				"MULTIAPPEND IMAP4rev2 UTF8=ACCEPT " \
				"SORT SORT=DISPLAY THREAD=ORDEREDSUBJECT " \
				"THREAD=REFERENCES WITHIN ESORT " \
				"COMPRESS=DEFLATE BINARY"

/* Login: bounds of what a client may send before it authenticated. */
#define LOGIN_LINE_MAX		8192
#define LOGIN_LITERAL_MAX	1024
#define LOGIN_FAILURES_MAX	3	/* bad logins, then the session ends */
#define LOGIN_AUTH_TIMEOUT	15000	/* msec for authd's answer */
#define LOGIN_START_TIMEOUT	15000	/* msec for the parent's answer */
#define LOGIN_RELAY_HIWAT	(256 * 1024)	/* queued: stop the other side */

extern struct conf	*imapd_conf;

/* imapd_mail.c: the parent's mail processes. */
void	mail_procs_init(struct channel *login, struct channel *authd);
void	mail_procs_start(struct imsg *, struct msg_imap_mail_start *);
/* A child reaped: 1 if it was a mail process. */
int	mail_procs_reaped(pid_t, int status);
void	mail_procs_stop(void);
/* The sessions, for the control socket: fn returns -1 to stop. */
struct mail_proc_info {
	pid_t		 pid;
	int		 proto;
	time_t		 since;
	const char	*user;
	const char	*ip;
};
void	mail_procs_walk(int (*)(const struct mail_proc_info *, void *),
	    void *);
/* Tell each session of user to say BYE and end: how many. */
unsigned int mail_procs_kick(const char *user);

/* imapd_control.c: imapd.control.sock, served by the parent. */
void	imapd_control_listen(void);
void	imapd_control_shutdown(void);

/* login.c: the login process. */
__attribute__((__noreturn__))
void	login_main(int parent_fd, int key_fd);
struct channel *login_authd(void);
struct channel *login_parent(void);

/* login_session.c */
struct io;
struct tls_ctx;
struct login_listener {
	TAILQ_ENTRY(login_listener)	 entry;
	const struct conf_listen	*cl;
	int				 proto;
	struct listener			*listener;
};

enum login_state {
	LS_BANCHECK,		/* waiting for authd's CHECK_BAN */
	LS_PREAUTH,		/* reading commands */
	LS_AUTH_CONT,		/* AUTHENTICATE / AUTH: waiting for the data */
	LS_AUTHING,		/* waiting for authd's LOGIN */
	LS_STARTING,		/* waiting for the parent's mail process */
	LS_RELAY,		/* bytes between client and mail process */
	LS_CLOSING,		/* last reply out, then gone */
};

struct imap_reader;
struct login_session {
	TAILQ_ENTRY(login_session)	 entry;
	struct login_listener		*l;
	struct io			*io;
	struct io			*mio;	/* the mail process */
	int				 mfd;	/* its end, until sent */
	struct sockaddr_storage		 ss;
	char				 ip[64];
	enum login_state		 state;
	struct tls_ctx			*tlsctx;
	int				 tls;		/* TLS is up */
	int				 tls_handshake;
	int				 banned;
	int				 failures;
	struct channel_req		 req;
	char				 tag[65];	/* IMAP command */
	char				 user[ADDR_MAX + 1];	/* POP3 USER */
	char				 authuser[ADDR_MAX + 1];
	char				 token[PROTO_TOKEN_MAX + 1];
	struct imap_reader		*rd;	/* IMAP */
	size_t				 skip;	/* literal bytes to eat */
	int				 in_lit;	/* reading a literal */
};

void	login_session_new(int fd, struct login_listener *,
	    struct sockaddr_storage *, socklen_t);
void	login_session_close(struct login_session *, const char *why);
/* Reply and end the session once it is written. */
void	login_session_end(struct login_session *);
int	login_may_login(const struct login_session *);
int	login_can_starttls(const struct login_session *);
int	login_starttls(struct login_session *);
/* Check a password with authd (service from the session's protocol). */
void	login_check(struct login_session *, const char *user,
	    const char *pass, size_t passlen);
void	login_shutdown(void);
/* SASL PLAIN (RFC 4616) from base64: 0, or -1 malformed. */
int	login_sasl_plain(const char *b64, size_t len, char *user,
	    size_t usersz, char *pass, size_t passsz, size_t *passlen);

/* login_imap.c, login_pop3.c: the pre-auth protocols. */
void	login_imap_greet(struct login_session *);
void	login_imap_input(struct login_session *);
void	login_imap_result(struct login_session *, int status);
void	login_pop3_greet(struct login_session *);
void	login_pop3_input(struct login_session *);
void	login_pop3_result(struct login_session *, int status);
/* status: auth_status, or a mail_status offset by 10 (see login_check). */
#define LOGIN_MAIL_OFFSET	10

int	login_failed(struct login_session *);

/* login_relay.c */
void	login_relay_start(struct login_session *);
void	login_relay_client(struct login_session *);
void	login_io_mail(struct io *, int, void *);

/* mail.c: the mail process. */
__attribute__((__noreturn__))
void	mail_main(int fd, int proto, const char *user, const char *home,
	    uid_t, gid_t, uint64_t quota);
/* SIGTERM: BYE and exit (MAIL_STOP_SHUTDOWN); SIGUSR1: MAIL_STOP_KICK. */
#define MAIL_STOP_SHUTDOWN	1
#define MAIL_STOP_KICK		2
extern volatile int	mail_stopping;

/* mail_io.c: blocking, bounded input; stdio output. */
struct mail_io {
	int		 fd;
	char		*buf;
	size_t		 size, rpos, wpos;
	int		 timeout;	/* msec idle, then autologout */
	int		 eof;	/* and 4: corrupt compressed input */
	FILE		*out;
	struct mio_zlib	*z, *zprep;	/* COMPRESS: on, being set up */
	const char	*zerr;		/* why inflate failed */
	char		 head[80];	/* the start of a line too long */
	size_t		 headlen;
	char		*obuf;		/* out's buffer */
};
void	mio_init(struct mail_io *, int fd, size_t bufsz, int timeout);
void	mio_free(struct mail_io *);
/*
 * The next line without its CRLF, NUL-ended in place: 1, 0 at end of
 * input or on timeout (mio->eof says which: 1 eof, 2 timeout, 3
 * stopping), -1 a line over the buffer (the rest of it is dropped).
 */
int	mio_getline(struct mail_io *, char **, size_t *);
/* Exactly n bytes into dst (NULL: dropped): 0, or -1 (eof, timeout). */
int	mio_read(struct mail_io *, char *, size_t);
int	mio_flush(struct mail_io *);
/*
 * Input within msec: 1, 0 timeout, -1 end of input or stopping; also
 * on fd (-1: none), 2 when only fd is readable.
 */
int	mio_wait_also(struct mail_io *, int fd, int msec);
/* mail_compress.c: COMPRESS=DEFLATE under mail_io. */
struct mio_zlib;
int	mio_compress_prepare(struct mail_io *);
int	mio_compress_start(struct mail_io *);
int	mio_compress_pending(const struct mail_io *);
int	mio_compress_inflate(struct mail_io *);
ssize_t	mio_compress_read(struct mail_io *);
int	mio_compress_flush(struct mail_io *);
void	mio_compress_free(struct mail_io *);

/* imap_session.c */
struct mailbox;
struct imap_cmd;
struct mail_session {
	struct mail_io		 io;
	const char		*user;
	int			 root;		/* the mail home */
	struct mailbox		*mb;		/* selected, or NULL */
	int			 readonly;
	uint32_t		*seq;		/* seq - 1 -> uid */
	size_t			 nseq;
	int			 logout;
	uint64_t		 quota;		/* MAILDIR_QUOTA_* or bytes */
	unsigned int		 enabled;	/* MAIL_ENABLED_*: ENABLE */
	struct mindex		*ix;		/* mb's modseqs */
	uint32_t		*saved;		/* SEARCHRES "$", uids */
	size_t			 nsaved;
	struct mailbox		*target;	/* last APPEND/COPY target */
};
#define MAIL_ENABLED_CONDSTORE	0x01
#define MAIL_ENABLED_QRESYNC	0x02
#define MAIL_ENABLED_REV2	0x04	/* IMAP4rev2 (RFC 9051) */
#define MAIL_ENABLED_UTF8	0x08	/* UTF8=ACCEPT (RFC 6855) */
/* What ENABLE may switch on (imap_cmd_enable.c). */
#define MAIL_ENABLE_OFFERED	(MAIL_ENABLED_CONDSTORE | \
	    MAIL_ENABLED_QRESYNC | MAIL_ENABLED_REV2 | MAIL_ENABLED_UTF8)
/* Mailbox names and quoted strings in UTF-8 on the wire. */
#define MAIL_UTF8_NAMES(s)	((s)->enabled & \
	    (MAIL_ENABLED_REV2 | MAIL_ENABLED_UTF8))
#define MAIL_REV2(s)		((s)->enabled & MAIL_ENABLED_REV2)
void	imap_session_run(struct mail_session *);
/* Reply helpers (write to s->io.out). */
void	imap_tagged(struct mail_session *, const struct imap_cmd *,
	    const char *status, const char *fmt, ...)
	    __attribute__((__format__ (printf, 4, 5)));
/* imap_string.c: a string as quoted or literal; _utf8 quotes UTF-8. */
void	imap_quoted(FILE *, const char *, size_t);
void	imap_quoted_utf8(FILE *, const char *, size_t);
/* seq <-> uid of the selected mailbox, after a sync. */
void	imap_seq_rebuild(struct mail_session *);
uint32_t imap_seq_of(const struct mail_session *, uint32_t uid);
size_t	 imap_uid_pos(const uint32_t *, size_t, uint32_t uid);
/* Report what other sessions changed (EXISTS/EXPUNGE/FETCH FLAGS). */
void	imap_sync_report(struct mail_session *, int expunges);
/* The selected messages of a set (UID or sequence): malloc'd uids. */
int	imap_set_uids(struct mail_session *, const void *set, int uid,
	    uint32_t **, size_t *);
void	imap_write_flags(struct mail_session *, FILE *, uint32_t uid);

/* imap_modseq.c: CONDSTORE's modseqs of the selected mailbox. */
struct mindex;
int	imap_modseq_open(struct mail_session *);
void	imap_modseq_close(struct mail_session *);
int	imap_modseq_sync(struct mail_session *);
void	imap_modseq_flags(struct mail_session *, uint32_t uid);
uint64_t imap_modseq_of(const struct mail_session *, uint32_t uid);
uint64_t imap_highestmodseq(const struct mail_session *);
void	imap_write_modseq(const struct mail_session *, FILE *, uint32_t);
int	imap_modseq_status(struct mailbox *, uint64_t *);

/* imap_qresync.c: QRESYNC's VANISHED. */
void	imap_write_uidset(FILE *, const uint32_t *, size_t);
void	imap_vanished_earlier(struct mail_session *, uint64_t modseq,
	    const struct imap_seqset *);
void	imap_qresync_select(struct mail_session *,
	    const struct imap_select *);
void	imap_report_vanished(struct mail_session *);

/* imap_esearch.c: ESEARCH replies and SEARCHRES's saved result. */
void	imap_saved_clear(struct mail_session *);
int	imap_saved_has(const struct mail_session *, uint32_t uid);
void	imap_saved_uids(struct mail_session *, uint32_t **, size_t *);
void	imap_saved_store(struct mail_session *, const uint32_t *, size_t);
void	imap_esearch_reply(struct mail_session *, struct imap_cmd *,
	    const uint32_t *uids, size_t n, uint64_t modseq);

/*
 * imap_name.c: mailbox names between the wire (modified UTF-7 for
 * IMAP4rev1, UTF-8 after ENABLE IMAP4rev2 or UTF8=ACCEPT) and the
 * storage (modified UTF-7, as Dovecot names Maildir++ folders).
 */
int	imap_name_in(struct mail_session *, const struct imap_str *,
	    char *, size_t);
void	imap_name_refused(struct mail_session *, const struct imap_cmd *,
	    const char *no);
int	imap_name_wire(const struct mail_session *, const char *, char *,
	    size_t);
void	imap_name_out(const struct mail_session *, FILE *, const char *);
int	imap_mailbox_name(const struct imap_str *, char *, size_t);

/* imap_cmd_*.c: one file per command or group. */
void	imap_cmd_enable(struct mail_session *, struct imap_cmd *);
void	imap_cmd_select(struct mail_session *, struct imap_cmd *);
void	imap_cmd_close(struct mail_session *, struct imap_cmd *);
void	imap_cmd_list(struct mail_session *, struct imap_cmd *);
void	imap_cmd_status(struct mail_session *, struct imap_cmd *);
int	imap_status_write(struct mail_session *, const char *name,
	    unsigned int items, const char **why);
int	imap_list_matches(const char *pattern, const char *name);
void	imap_list_ext(struct mail_session *, struct imap_cmd *);
void	imap_cmd_fetch(struct mail_session *, struct imap_cmd *);
/* imap_fetch_binary.c: 0, 1 no such part, -1 UNKNOWN-CTE. */
struct mime_msg;
int	imap_binary_section(struct mime_msg *, const uint32_t *, int,
	    char **, size_t *);
int	imap_binary_known(struct mime_msg *, const uint32_t *, int);
void	imap_cmd_store(struct mail_session *, struct imap_cmd *);
void	imap_cmd_expunge(struct mail_session *, struct imap_cmd *);
void	imap_cmd_search(struct mail_session *, struct imap_cmd *);
/* SEARCH's evaluator, for SORT and THREAD (imap_cmd_search.c). */
int	imap_search_charset_ok(const struct imap_search *);
int	imap_search_uids(struct mail_session *, const struct imap_search *,
	    uint32_t **, size_t *);
int	imap_search_select(struct mail_session *, struct imap_cmd *,
	    const struct imap_search *, uint32_t **, size_t *);
void	imap_cmd_sort(struct mail_session *, struct imap_cmd *);
void	imap_cmd_thread(struct mail_session *, struct imap_cmd *);
void	imap_cmd_folder(struct mail_session *, struct imap_cmd *);
/* imap_cmd_lsub.c, with the pattern matches of imap_cmd_list.c. */
void	imap_cmd_lsub(struct mail_session *, struct imap_cmd *);
int	imap_list_wanted(const struct imap_list *, const char *name);
int	imap_list_wants(const struct mail_session *, const struct imap_list *,
	    const char *);
/* Flag names of a list on a mailbox (imap_cmd_store.c). */
int	imap_flags_parse(struct mailbox *, const struct imap_strlist *,
	    struct maildir_flags *);
void	imap_cmd_append(struct mail_session *, struct imap_cmd *);
void	imap_cmd_copy(struct mail_session *, struct imap_cmd *);
void	imap_cmd_idle(struct mail_session *, struct imap_cmd *);
void	imap_cmd_compress(struct mail_session *, struct imap_cmd *);

/* mail_quota.c */
int	mail_quota_over(struct mail_session *, int64_t bytes, int64_t count);
void	mail_quota_add(struct mail_session *, int64_t bytes, int64_t count);
int64_t	mail_quota_size(const struct mailbox *, const uint32_t *, size_t);
struct maildir_quota;
int	mail_quota_get(struct mail_session *, struct maildir_quota *);
void	imap_cmd_quota(struct mail_session *, struct imap_cmd *);

/* pop3_session.c */
void	pop3_session_run(struct mail_session *);

#endif
