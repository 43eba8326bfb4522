/*
 * tsamba-lmtpd: the LMTP server (RFC 2033) that writes Maildir.
 *
 * Three kinds of process:
 *   parent  root, no network input: binds the sockets, connects to authd
 *           for the engine, spawns one writer per mailbox owner and routes
 *           deliveries between engine and writers (lmtpd.c, writers.c);
 *   engine  conf->user_lmtpd in conf->chroot: every LMTP session
 *           (lmtp_engine.c, lmtp_session.c);
 *   writer  the mailbox owner, chrooted in conf->mailroot: Maildir writes
 *           (lmtp_writer.c, through lib/maildir).
 */

#ifndef TSAMBA_LMTPD_H
#define TSAMBA_LMTPD_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "imsg.h"
#include "proto.h"

/* The prefix of one recipient: Return-Path and Delivered-To lines. */
#define LMTP_PREFIX_MAX		(2 * ADDR_MAX + 64)
/* Reply text of one delivery, as sent in DELIVERED. */
#define LMTP_REPLY_MAX		(ADDR_MAX + 64)
/* Writers one mailbox owner may have at once (fsyncs in parallel). */
#define WRITERS_PER_OWNER	4
/* Descriptors of one engine session: the socket, the body file. */
#define LMTP_SESSION_FDS	2
/*
 * Seconds a stopping engine waits for the writers' answers to the
 * deliveries in flight; the parent waits that and the flush on top.
 */
#define LMTPD_EXIT_DRAIN_SEC	5
/* Seconds an exiting engine spends writing out the replies it owes. */
#define LMTP_EXIT_FLUSH_SEC	2

extern struct conf	*conf;
/*
 * Who may deliver over the LMTP socket besides root and the engine's
 * own uid: the queue and the users of "allow" (lmtpd.c, resolved before
 * the engine is forked; the engine checks each peer by SO_PEERCRED).
 */
extern uid_t		 lmtp_allowed[];
extern size_t		 nlmtp_allowed;
/* The queue's: it alone may ask for a folder (LMTP_FOLDER_PARAM). */
extern uid_t		 lmtp_queue_uid;

/* lmtpd.c */
void		 parent_send_engine(struct ibuf *);
void		 parent_forget(void);

/* writers.c: the parent's side of the writers */
void		 writers_init(void);
void		 writers_deliver(struct imsg *, struct msg_lmtp_deliver *);
void		 writers_reaped(pid_t);
unsigned int	 writers_pending(void);
void		 writers_kill(void);

/* lmtp_writer.c: the writer process */
void		 writer_main(int fd, uid_t, gid_t)
		    __attribute__((__noreturn__));

/* lmtp_engine.c: the engine process */
struct lmtp_session;
struct request;

void		 engine_main(int fd) __attribute__((__noreturn__));
struct request	*engine_lookup(struct lmtp_session *, const char *mailbox);
struct request	*engine_deliver(struct lmtp_session *, size_t rcpt, int fd,
		    const char *maildir, uint32_t uid, uint32_t gid,
		    uint64_t quota, const char *prefix);
void		 engine_cancel(struct request *);
void		 engine_session_closed(void);

/* lmtp_session.c */
void		 lmtp_session_new(int fd, const char *peer, int from_queue);
/* On SIGTERM: no new command, sessions close once answered. */
void		 lmtp_session_stop_all(void);
/* At exit: write out the replies owed (a 250 for a delivery). */
void		 lmtp_session_flush_all(void);
void		 lmtp_session_lookup_done(struct lmtp_session *, int status,
		    const char *maildir, uint32_t uid, uint32_t gid,
		    uint64_t quota);
void		 lmtp_session_delivered(struct lmtp_session *, size_t rcpt,
		    int status, const char *text);

#endif
