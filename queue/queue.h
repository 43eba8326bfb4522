/*
 * tsamba-queue: the declarations shared by the files of the queue
 * program (parent, spool, envelopes, scheduler, LMTP client, bounces).
 */

#ifndef TSAMBA_QUEUE_H
#define TSAMBA_QUEUE_H

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/tree.h>

#include <stdint.h>
#include <time.h>

#include "proto.h"

struct conf;
struct imsgev;
struct imsg;

#define ENVELOPE_VERSION	1
#define HELO_MAX		256
#define CLIENT_MAX		128
#define REPLY_MAX		512	/* kept per recipient, one line */
#define ENVELOPE_RCPT_MAX	65536

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
	int			 remote_logged;
};

/* queue.c */
extern struct conf	*queue_conf;

/* queue_server.c */
void		 server_init(int listenfd, uid_t smtpd_uid);

/* queue_spool.c */
void		 spool_init(void);
int		 spool_newid(char *, size_t);
int		 spool_create(char *id, size_t idsz);
int		 spool_reserve(void *owner, char *id, size_t idsz, int *fd);
void		 spool_release(void *owner, const char *id);
void		 spool_release_owner(void *owner);
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
size_t		 scheduler_count(void);

/* queue_lmtp.c */
void		 lmtp_init(struct imsgev *parent);
int		 lmtp_deliver(struct msg *);	/* -1: no session free */
void		 lmtp_fd(struct imsg *);

/* queue_bounce.c */
int		 bounce_create(struct envelope *, const char *reason);

#endif
