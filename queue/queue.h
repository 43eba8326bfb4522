/*
 * tsamba-queue: the declarations shared by the files of the queue
 * program (parent, spool, envelopes, scheduler, LMTP client, the mta
 * channel, bounces and delay notices, the control socket).
 */

#ifndef TSAMBA_QUEUE_H
#define TSAMBA_QUEUE_H

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/tree.h>

#include <stdint.h>
#include <time.h>

#include "channel.h"
#include "proto.h"

struct conf;
struct imsg;

#define ENVELOPE_VERSION	3	/* 1 and 2 are still read */
#define HELO_MAX		256
#define CLIENT_MAX		128
#define REPLY_MAX		512	/* kept per recipient, one line */
#define ENVELOPE_RCPT_MAX	65536
#define RELAY_TEXT_MAX		320	/* "mx.example.net [192.0.2.1]" */
/*
 * Queue-internal recipient flag, beside RCPT_LOCAL: the recipient of a
 * notice whose sender may or may not be ours.  It is tried over LMTP
 * first; if the LMTP server refuses it for good, it goes to the mta.
 */
#define RCPT_FALLBACK		0x80

struct transfer;

enum rcpt_state {
	RCPT_PENDING = 0,
	RCPT_DONE,
	RCPT_FAILED,
};

struct rcpt {
	TAILQ_ENTRY(rcpt)	 entry;
	char			 addr[ADDR_MAX + 1];
	char			 orcpt[ADDR_MAX + 1];
	uint8_t			 flags;		/* RCPT_LOCAL */
	enum rcpt_state		 state;
	unsigned int		 tries;
	time_t			 next_try;
	char			 error[REPLY_MAX];	/* last reply */

	/* In memory only. */
	int			 inflight;	/* in an LMTP transaction */
	int			 accepted;	/* RCPT got 2xx */
	int			 reply;		/* final code, 0 = none yet */
	int			 bounced;	/* failure already reported */
	struct transfer		*transfer;	/* in an mta transfer */
	int			 mta_status;	/* result so far, -1 none */
	char			 relay[RELAY_TEXT_MAX];	/* remote host */
};
TAILQ_HEAD(rcpt_list, rcpt);

struct envelope {
	unsigned int		 version;
	char			 id[MSGID_LEN + 1];
	char			 sender[ADDR_MAX + 1];	/* "" = null sender */
	char			 helo[HELO_MAX];
	char			 client[CLIENT_MAX];
	uint8_t			 body;		/* 0 7bit, 1 8bit, 2 binary */
	uint8_t			 smtputf8;
	char			 auth[ADDR_MAX + 1];	/* "": none */
	uint8_t			 held;		/* wait for a release */
	uint8_t			 warned;	/* delay notice sent */
	/*
	 * Header fields that go in front of the message file wherever it
	 * is read (the inbound checks' verdict), or NULL.
	 */
	char			*prefix;
	time_t			 created;
	struct rcpt_list	 rcpts;
	size_t			 nrcpts;
};

/* A message known to the scheduler. */
struct msg {
	RB_ENTRY(msg)		 byid;
	RB_ENTRY(msg)		 bytime;
	struct envelope		 env;
	time_t			 wake;		/* next thing to do, 0 = none */
	int			 scheduled;	/* in the time tree */
	int			 inflight;	/* an LMTP session has it */
	unsigned int		 ntransfers;	/* mta transfers */
	int			 blocked;	/* waits for a slot */
	TAILQ_ENTRY(msg)	 blocked_entry;
	int			 lmtp_waiting;	/* waits for a session */
	TAILQ_ENTRY(msg)	 lmtp_entry;
	int			 grace;		/* released: try once */
	int			 signed_;	/* dkim: prefix computed */
	char			*prefix;	/* DKIM-Signature lines */
};

/* queue.c */
extern struct conf	*queue_conf;

/* queue_server.c */
void		 server_init(int listenfd, uid_t smtpd_uid);
/* At exit: write out the answers owed to the smtp engines. */
void		 server_flush(void);

/* queue_spool.c */
void		 spool_init(void);
int		 spool_create(char *id, size_t idsz);
int		 spool_reserve(void *owner, char *id, size_t idsz, int *fd);
void		 spool_release(void *owner, const char *id);
void		 spool_release_owner(void *owner);
/*
 * Header fields in front of a reserved message, before its commit (the
 * inbound checks' verdicts); a failure makes the commit fail.
 */
void		 spool_prepend(void *owner, const char *id, const char *);
/* The header fields in front of a queued message's file, or "". */
const char	*spool_prefix(const struct envelope *);
typedef void	(*spool_commit_cb)(void *arg, uint64_t reqid, int status);
void		 spool_commit(void *owner, struct envelope *, uint64_t reqid,
		    spool_commit_cb, void *arg);
void		 spool_cancel_owner(void *owner);
int		 spool_store_now(struct envelope *);
int		 spool_update(const struct envelope *);
void		 spool_remove(const char *id);
void		 spool_msgpath(const char *dir, const char *id, char *, size_t);
void		 spool_load(void);

/* queue_envelope.c */
void		 envelope_init(struct envelope *);
void		 envelope_clear(struct envelope *);
struct rcpt	*envelope_add_rcpt(struct envelope *, const char *addr,
		    const char *orcpt, uint8_t flags);
/* Encoded text in a malloc'ed buffer; NULL on error. */
char		*envelope_encode(const struct envelope *, size_t *);
/* 0, or -1 with a reason in err. */
int		 envelope_parse(const char *, size_t, struct envelope *,
		    char *err, size_t errsz);
int		 envelope_write(int fd, const struct envelope *);
int		 envelope_load(const char *path, struct envelope *,
		    char *err, size_t errsz);

/* queue_scheduler.c */
void		 scheduler_init(void);
void		 scheduler_add(struct envelope *);	/* takes the envelope */
void		 scheduler_kick(void);
void		 scheduler_done(struct msg *);	/* after an LMTP transaction */
/* After an mta transfer: the results are in each rcpt's mta_status. */
void		 scheduler_transfer_done(struct msg *, struct rcpt **, size_t);
/* A connection slot of this destination ("" = any) became free. */
void		 scheduler_unblock(const char *dest);
/* An LMTP session became free (or may be opened): serve the waiting. */
void		 scheduler_lmtp_ready(void);
size_t		 scheduler_count(void);
/* The queue control socket's operations; NULL/-1 with a reason. */
struct msg	*scheduler_find(const char *id);
void		 scheduler_foreach(void (*)(struct msg *, void *), void *);
int		 scheduler_flush(const char *what, int *held);
				/* messages made due; *held: left on hold */
int		 scheduler_hold(struct msg *, int hold, char *, size_t);
int		 scheduler_delete(struct msg *, int silent, char *, size_t);
time_t		 scheduler_next_try(struct msg *);

/* queue_mta.c: the queue's side of the mta process. */
void		 mta_channel_init(int fd);
/* 1 if a transfer to dest may start now (connection limits). */
int		 transfer_slot_free(const char *dest);
/*
 * Start a transfer of the first recipients of rcpts (all of dest);
 * how many it took (at least 1), or -1 (the message cannot be opened).
 */
int		 transfer_start(struct msg *, const char *dest, struct rcpt **,
		    size_t);

/* queue_stats.c: the figures of lib/stats.h */
void		 qstats_added(const struct msg *);
void		 qstats_removed(const struct msg *);
void		 qstats_result(const struct msg *, const struct rcpt *,
		    const char *status, time_t now);

/* queue_dkim.c */
void		 dkim_init(void);		/* as root, before the drop */
/* The DKIM prefix of the message (cached), "" if none; -1 on error. */
int		 dkim_prefix(struct msg *, const char **);
void		 dkim_forget(struct msg *);

/* queue_control.c */
void		 control_init(int listenfd);

/* queue_lmtp.c */
void		 lmtp_init(struct channel *parent);
int		 lmtp_deliver(struct msg *);	/* -1: no session free */
void		 lmtp_fd(struct imsg *, struct msg_queue_lmtp_fd *);

/* queue_bounce.c */
int		 bounce_create(struct envelope *, const char *reason);
/* The RFC 3464 "delayed" notice for the pending recipients. */
int		 bounce_delay(struct envelope *);

#endif
