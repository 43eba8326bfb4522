/*
 * tsamba-smtpd: the declarations shared by the files of the SMTP server
 * (parent, engine, sessions, message bodies, submission AUTH and bans).
 * TLS contexts and per-IP limits are lib/tls_ctx.c and lib/ip_limit.c.
 */

#ifndef TSAMBA_SMTPD_H
#define TSAMBA_SMTPD_H

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/tree.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <event.h>
#include <stddef.h>
#include <stdint.h>

#include "channel.h"
#include "conf.h"
#include "esc.h"
#include "imsg.h"
#include "proto.h"
#include "smtp_parse.h"

struct conf;
struct conf_listen;
struct io;
struct listener;
struct tls;

#define SMTP_IP_MAX		64	/* text of an IPv6 address */
#define SMTP_MAX_ERRORS		10	/* errors without a delivery, then 421 */
#define SMTP_WBUF_SIZE		(64 * 1024)	/* body write buffer */
#define SMTP_OUTPUT_LIMIT	(64 * 1024)	/* replies queued out */
#define SMTP_AUTH_LINE_MAX	12288	/* RFC 4954 4: AUTH line, CRLF too */
#define SMTP_AUTH_MAX		2048	/* a decoded SASL response */
#define SMTP_PASSWORD_MAX	1024	/* longest password passed on */
#define SMTP_AUTH_FAILURES	3	/* failed AUTH before 421 */
#define SMTP_LOG_ARG_MAX	512	/* a MAIL/RCPT argument kept for the log */
#define SMTP_SESSION_FDS	3	/* socket, spool file, milter socket */
#define SMTP_EXIT_FLUSH_SEC	2	/* for every reply owed, at exit */
#define SMTP_EXIT_COMMIT_SEC	5	/* for the queue's answers, at exit */
#define SMTP_CLOSE_GRACE	10	/* s to send the last reply */
#define SMTP_FIELD_MAX		16384	/* a header field held to be judged */
#define LOOKUP_TIMEOUT_SEC	8	/* one DNS question of the checks */

/* The config shared by every file of the program. */
extern struct conf	*smtpd_conf;

/* smtpd.c: the parent process. */

/* smtp_engine.c: the unprivileged process holding every session. */
struct smtp_listener {
	TAILQ_ENTRY(smtp_listener) entry;
	struct conf_listen	*cl;
	struct listener		*listener;	/* lib/listener.c */
	unsigned int		 slot;		/* stats.h listener label */
};

void		 engine_main(int parent_fd, int key_fd, int lookup_fd);
/* The channel to the lookup process, or NULL while it is down. */
struct channel	*engine_lookup_channel(void);

/* smtp_lookup.c: the lookup process (DNS of the inbound checks). */
void		 lookup_main(int engine_fd);
/* smtp_lookup_cache.c: its answers kept for their TTL, by type and name. */
struct dnsq_answer;
int		 lookup_cache_get(int, const char *, struct dnsq_answer *);
void		 lookup_cache_put(int, const char *, const struct dnsq_answer *,
		    uint32_t);
/* smtp_greylist.c: its greylist. */
void		 grey_init(int dirfd);
void		 grey_flush(void);
int		 grey_check(const char *net, const char *sender,
		    const char *rcpt, uint32_t *wait);
/* The channel to authd or queue, or NULL while it is down. */
struct channel	*engine_channel(int which);
/* channel_send() to authd or queue: -1 (b freed) if it is down. */
int		 engine_send(int which, struct ibuf *);
void		 engine_send_rollback(const char *msgid);
/* The parent connects a UNIX-socket milter: milter_connected() follows. */
void		 engine_connect_milter(uint64_t id, uint32_t index);

/* smtp_session.c: one SMTP conversation. */
enum smtp_req {
	REQ_NONE = 0,
	REQ_RCPT,		/* authd LOOKUP_RCPT */
	REQ_CREATE,		/* queue MSG_CREATE */
	REQ_COMMIT,		/* queue MSG_COMMIT */
	REQ_BAN,		/* authd CHECK_BAN, before the banner */
	REQ_LOGIN,		/* authd LOGIN */
	REQ_SENDER,		/* authd CHECK_SENDER */
	REQ_CHECK,		/* the inbound checks' verdict (smtp_check.c) */
	REQ_MILTER,		/* the milters have the message (no channel) */
};

/* Where a SASL exchange stands (smtp_auth.c). */
enum smtp_auth_step {
	AUTH_STEP_NONE = 0,
	AUTH_STEP_PLAIN,	/* 334 sent, the PLAIN response is due */
	AUTH_STEP_LOGIN_USER,	/* 334 Username: sent */
	AUTH_STEP_LOGIN_PASS,	/* 334 Password: sent */
};

enum smtp_mode {
	MODE_CMD = 0,		/* reading command lines */
	MODE_DATA,		/* DATA body, up to CRLF.CRLF */
	MODE_BDAT,		/* a BDAT chunk of known length */
	MODE_CLOSING,		/* last reply is being sent */
};

struct smtp_rcpt {
	TAILQ_ENTRY(smtp_rcpt)	 entry;
	char			 addr[ADDR_MAX + 1];	/* mailbox */
	char			 orcpt[ADDR_MAX + 1];	/* RCPT TO */
	uint8_t			 flags;		/* RCPT_LOCAL */
};
TAILQ_HEAD(smtp_rcpt_list, smtp_rcpt);

/* State of the body scanner of smtp_data.c. */
enum data_state {
	DS_BOL = 0,		/* at the start of a line */
	DS_TEXT,		/* inside a line */
	DS_CR,			/* after a CR inside a line */
	DS_DOT,			/* after a dot at the start of a line */
	DS_DOTCR,		/* after ".\r" at the start of a line */
};

#define DATA_BARE	0x01	/* bare CR or LF seen: refuse */
#define DATA_TOOBIG	0x02	/* over the size limit: refuse */
#define DATA_WERR	0x04	/* writing the spool file failed */
#define DATA_NOFILE	0x08	/* no file (queue refused): discard */
#define DATA_NUL	0x10	/* NUL byte seen: refuse */

struct smtp_body_state {
	int			 fd;		/* spool file or -1 */
	char			*wbuf;
	size_t			 wlen;
	size_t			 size;		/* body bytes */
	int			 errors;	/* DATA_* */
	int			 werrno;
	enum data_state		 state;
	/* The header section, held field by field when it is filtered. */
	int			 in_header;
	int			 hbol;		/* at the start of a line */
	char			*field;
	size_t			 fieldlen;
	int			 fielddrop;	/* an over-long A-R: dropped */
	int			 fieldpass;	/* over-long: written through */
};

/*
 * One mail transaction, from an accepted MAIL FROM to the end of its
 * body or an RSET (RFC 5321 3.3): a session holds at most one.
 */
struct smtp_tx {
	struct smtp_session	*session;
	char			 sender[ADDR_MAX + 1];
	enum smtp_body		 body;
	int			 smtputf8;
	unsigned int		 nrcpt;		/* RCPT commands accepted */
	char			 first_orcpt[ADDR_MAX + 1];
	char			 pending_orcpt[ADDR_MAX + 1];	/* RCPT out */
	struct smtp_rcpt_list	 rcpts;		/* deduplicated */
	size_t			 envsize;	/* of the commit imsg */
	char			 msgid[MSGID_LEN + 1];	/* "" = no file */
	struct smtp_body_state	 bs;
	int			 bdat;		/* BDAT transaction */
	int			 bdat_last;
	int			 bdat_failed;	/* no spool file */
	struct smtp_check	*check;		/* NULL: no inbound checks */
	struct milter_run	*milter;	/* smtp_milter.c, or NULL */
	int			 held;		/* commit on hold */
	int			 milter_fd;	/* the spool file for the milters */
	char			*fields;	/* the verdict, for MSG_PREPEND */
};

enum dnsbl_state {
	DNSBL_NONE = 0,		/* not asked */
	DNSBL_CLEAR,		/* on no list */
	DNSBL_LISTED,		/* on a block list: 554 */
	DNSBL_ALLOWED,		/* on an allow list */
};

struct smtp_session {
	TAILQ_ENTRY(smtp_session) entry;
	uint64_t		 id;		/* for the log */
	struct io		*io;
	struct smtp_listener	*l;
	struct sockaddr_storage	 ss;
	char			 ip[SMTP_IP_MAX];
	int			 port;
	struct tls_ctx		*tlsctx;	/* held while in use */
	struct event		 lifetime;	/* total session timeout */

	enum smtp_mode		 mode;
	enum smtp_req		 req;		/* the pending request */
	struct channel_req	 creq;		/* its id, on its channel */
	int			 req_chan;	/* CONNECT_AUTHD/QUEUE */

	int			 helo_done;
	int			 esmtp;
	int			 tls;		/* TLS is up */
	int			 tls_handshake;	/* TLS is starting */
	int			 banner_sent;
	char			 helo[SMTP_HELO_MAX + 1];
	unsigned int		 nerrors;
	unsigned int		 nmessages;

	struct smtp_tx		*tx;		/* NULL: no MAIL yet */
	/* The BDAT chunk being read, refused ones too. */
	size_t			 chunk_left;
	size_t			 chunk_size;
	char			 chunk_reply[128];	/* refusal */

	/* Submission (smtp_auth.c). */
	int			 banned;	/* 421 once TLS is up */
	enum smtp_auth_step	 auth_step;
	char			 auth_login[ADDR_MAX + 1];	/* authcid */
	char			 auth_user[ADDR_MAX + 1];	/* "" = none */
	unsigned int		 auth_failures;
	/* A MAIL FROM waiting for CHECK_SENDER. */
	char			 pending_sender[ADDR_MAX + 1];
	enum smtp_body		 pending_body;
	int			 pending_utf8;

	/* A RCPT waiting for the greylist (smtp_session.c). */
	struct channel_req	 grey_req;
	struct smtp_rcpt	*grey_mark;
	size_t			 grey_envsize;

	/* DNS block and allow lists (smtp_dnsbl.c). */
	struct smtp_dnsbl	*dnsbl;		/* questions out */
	void			(*dnsbl_done)(struct smtp_session *);
	enum dnsbl_state	 dnsbl_state;
	char			 dnsbl_zone[CONF_HOST_MAX];	/* the list */

	/* FCrDNS (smtp_iprev.c); -1: not checked. */
	struct smtp_iprev	*iprev;		/* questions out */
	int			 iprev_result;	/* IPREV_* */
	char			 iprev_name[256];	/* DNSQ_NAME_MAX */

	/* The checks before the greeting (DNS lists, iprev). */
	int			 connect_checked;	/* started */
	int			 connect_pending;	/* not answered */

	/* The command being answered, for smtp_log.c (CMD_EMPTY: none). */
	enum smtp_verb		 log_verb;
	char			 log_arg[SMTP_LOG_ARG_MAX];
};

void		 smtp_session_new(int fd, struct smtp_listener *,
		    struct sockaddr_storage *, socklen_t);
/*
 * A request to authd or the queue (which): the id to send in it, 0 if
 * that channel is down.  Once sent, smtp_req_start(); if the send
 * failed, smtp_req_cancel().  The answer, or its failure when the
 * channel drops, comes back to the session.
 */
uint64_t	 smtp_req_add(struct smtp_session *, int which);
void		 smtp_req_cancel(struct smtp_session *);
/* At exit: write out the replies owed (a 250 for a queued message). */
void		 smtp_session_flush_all(void);
unsigned int	 smtp_session_commits(void);
/* Used by smtp_auth.c. */
/* Banner or implicit TLS after the ban check: -1 if s was freed. */
int		 smtp_session_start(struct smtp_session *);
void		 smtp_mail_accept(struct smtp_session *);
/* A reply line as it is: greetings, EHLO lines, 334 and 354. */
void		 smtp_reply(struct smtp_session *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
/* "code x.y.z text", the class of x.y.z taken from code. */
void		 smtp_status(struct smtp_session *, int code, enum esc_code,
		    const char *, ...)
		    __attribute__((__format__ (printf, 4, 5)));
/* The same for a bad command: too many end the session. */
void		 smtp_error(struct smtp_session *, int code, enum esc_code,
		    const char *, ...)
		    __attribute__((__format__ (printf, 4, 5)));
/* The same as the last reply of the session. */
void		 smtp_close(struct smtp_session *, int code, enum esc_code,
		    const char *, ...)
		    __attribute__((__format__ (printf, 4, 5)));
void		 smtp_req_start(struct smtp_session *, enum smtp_req);
void		 smtp_req_done(struct smtp_session *);
/*
 * The milters' verdict (REQ_MILTER ends): commit, or the reply is sent
 * and the message goes back.
 */
void		 smtp_milter_done(struct smtp_session *, int commit);

/* smtp_auth.c: SASL AUTH, the sender check, the ban check. */
void		 auth_check_ban(struct smtp_session *);
void		 auth_cmd(struct smtp_session *, char *);
void		 auth_line(struct smtp_session *, char *);
void		 auth_check_sender(struct smtp_session *);
int		 auth_mechanisms_offered(struct smtp_session *);
/* Answers from authd: -1 if they make no sense (the channel drops). */
int		 smtp_session_ban_result(struct smtp_session *,
		    struct msg_auth_ban_result *);
int		 smtp_session_login_result(struct smtp_session *,
		    struct msg_auth_login_result *);
int		 smtp_session_sender_result(struct smtp_session *,
		    struct msg_auth_sender_result *);
/* A request to authd failed (channel down or lost). */
int		 auth_req_failed(struct smtp_session *, enum smtp_req);

/* smtp_tx.c: the transaction and its recipients. */
struct smtp_tx	*smtp_tx_new(struct smtp_session *, const char *sender,
		    enum smtp_body, int smtputf8);
/* Drops the body and gives an uncommitted spool file back. */
void		 smtp_tx_free(struct smtp_tx *);
/* One final recipient, once per message: -1 if the envelope is full. */
int		 smtp_tx_add_rcpt(struct smtp_tx *, const char *mbox,
		    uint8_t flags);
/* Take back the recipients added after mark (NULL: all). */
void		 smtp_tx_drop_rcpts(struct smtp_tx *, struct smtp_rcpt *mark,
		    size_t envsize);

/* smtp_data.c: message bodies. */
int		 data_begin(struct smtp_tx *, int fd);
/* Scan DATA input; returns bytes used, *done at CRLF.CRLF. */
size_t		 data_feed_dotted(struct smtp_tx *, const char *, size_t,
		    int *done);
void		 data_feed_raw(struct smtp_tx *, const char *, size_t);
/* After the LAST chunk: a CR left alone is bare; end the last line. */
void		 data_end_raw(struct smtp_tx *);
/* Flush and close the file: 0 ok, -1 see bs.errors. */
int		 data_finish(struct smtp_tx *);
void		 data_abort(struct smtp_tx *);
int		 data_write_received(struct smtp_session *);

/* smtp_milter.c: the milters of the listener, before the commit. */
struct milter_run;
int		 milter_wanted(struct smtp_session *);
/*
 * Takes msgfd (a read-write fd of the spool file, or -1); 0: the run
 * begins from the event loop and ends in smtp_milter_done(), -1: out of
 * memory, nothing started.
 */
int		 milter_start(struct smtp_session *, int msgfd);
void		 milter_tx_free(struct smtp_tx *);
/* The parent's answer to engine_connect_milter(): fd, or -1. */
void		 milter_connected(uint64_t id, int fd);

/* smtp_check.c: SPF, DKIM and DMARC of inbound mail. */
enum check_action {
	CHECK_ACCEPT = 0,
	CHECK_QUARANTINE,
	CHECK_REJECT,		/* 550 5.7.1 */
	CHECK_TEMPFAIL,		/* 451 4.7.0 */
};
struct smtp_check;
void		 check_init(void);
/* LISTEN_SPF ... flags that apply to the session, 0 for none. */
int		 check_wanted(struct smtp_session *);
struct smtp_check *check_new(struct smtp_tx *, int flags);
void		 check_free(struct smtp_check *);
void		 check_mail(struct smtp_check *);
void		 check_body(struct smtp_check *, const char *, size_t);
void		 check_header(struct smtp_check *, const char *, size_t);
void		 check_header_end(struct smtp_check *);
/* done(s) is called once every verdict is in (maybe at once). */
void		 check_end(struct smtp_check *,
		    void (*done)(struct smtp_session *));
enum check_action check_verdict(struct smtp_check *, char *, size_t);
size_t		 check_fields(struct smtp_check *, enum check_action, char *,
		    size_t);
void		 check_log(struct smtp_check *, enum check_action);

/* An LKA_DNS_ANSWER (imsg NULL: none came) as a dnsq answer. */
struct dnsq_answer;
struct dnsq_query;
void		 check_dns_decode(struct imsg *, union imsg_msg *,
		    struct dnsq_answer *);
/* A DNS question to the lookup process: 0, or -1 if it is not there. */
int		 check_dns_ask(struct channel_req *, const struct dnsq_query *,
		    channel_answer_cb, void *);

/* smtp_iprev.c: FCrDNS of the client, before the greeting. */
struct smtp_iprev;
/* 0: done(s) follows from the event loop; -1: nothing to wait for. */
int		 smtp_iprev_start(struct smtp_session *,
		    void (*)(struct smtp_session *));
void		 smtp_iprev_cancel(struct smtp_session *);
/* MAIL FROM of a client without AUTH: 1 if refused for its FCrDNS. */
int		 smtp_iprev_refuse(struct smtp_session *);

/* smtp_dnsbl.c: the client address on DNS lists, before the greeting. */
int		 dnsbl_start(struct smtp_session *,
		    void (*)(struct smtp_session *));
void		 dnsbl_cancel(struct smtp_session *);
/* RCPT TO of a listed client ("dnsbl-at rcpt"): 1 if refused. */
int		 dnsbl_refuse_rcpt(struct smtp_session *);

/*
 * smtp_log.c: the lines an admin greps and fail2ban reads (the LOGGING
 * section of tsamba-smtpd(8)).  smtp_log_command() notes the command a
 * reply will answer; smtp_log_reply() logs a refusal of it.
 */
void		 smtp_log_command(struct smtp_session *, enum smtp_verb,
		    const char *args);
void		 smtp_log_reply(struct smtp_session *, const char *reply);
/* A connection turned away (before or instead of the greeting). */
void		 smtp_log_refuse(const char *ip, int port, const char *reply);
/* The next status reply of s refuses the connection (a banned client). */
void		 smtp_log_refusing(struct smtp_session *);
/*
 * A milter refused a recipient (rcpt) or, rcpt NULL, the message at the
 * end of its data; reply is the whole reply the client gets.
 */
void		 smtp_log_milter(struct smtp_session *, const char *milter,
		    const char *rcpt, const char *reply);

#endif
