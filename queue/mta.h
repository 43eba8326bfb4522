/*
 * tsamba-queue, the mta process: remote delivery over SMTP.  The queue
 * process hands it transfers (IMSG_MTA_TRANSFER: one message, the
 * recipients of one destination domain); the mta finds the servers in
 * the DNS (mta_dns.c), speaks SMTP to them (mta_session.c) and answers
 * one result per recipient (mta.c).
 */

#ifndef TSAMBA_MTA_H
#define TSAMBA_MTA_H

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <stdint.h>

#include "addr.h"
#include "proto.h"

struct conf;
struct tls_config;

#define MTA_REPLY_MAX		512	/* one line, for the log and bounce */
#define MTA_RELAY_MAX		(ADDR_DOMAIN_MAX + 49)	/* "host [ipv6]" */
#define MTA_ROUTES_MAX		32	/* addresses tried per transfer */

/* One recipient of a transfer. */
struct mta_rcpt {
	char			 addr[ADDR_MAX + 1];
	int			 done;		/* result already sent */
	int			 accepted;	/* RCPT got 2xx */
};

/* One address to try, in order: an MX host and one of its addresses. */
struct mta_route {
	char			 host[ADDR_DOMAIN_MAX + 1];
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
};

struct mta_transfer {
	TAILQ_ENTRY(mta_transfer) entry;
	uint64_t		 id;
	char			 msgid[MSGID_LEN + 1];
	char			 sender[ADDR_MAX + 1];
	char			 domain[ADDR_DOMAIN_MAX + 1];
	uint8_t			 body;		/* 0 7bit, 1 8bit, 2 binary */
	uint8_t			 smtputf8;
	struct mta_rcpt		*rcpts;
	size_t			 nrcpts;
	char			*prefix;	/* header lines sent first */
	size_t			 prefixlen;
	int			 fd;		/* the message, read-only */
	off_t			 size;		/* prefix and message, LF */
	int			 tls_verify;	/* policy: valid cert needed */
	int			 relay;		/* to the relay host */

	struct mta_route	 routes[MTA_ROUTES_MAX];
	size_t			 nroutes;
	size_t			 route;		/* the one being tried */
	int			 started;	/* holds a connection slot */
	struct mta_dns_query	*dns;		/* lookup in progress */
	struct mta_session	*session;
};
TAILQ_HEAD(mta_transfer_list, mta_transfer);

/* mta.c */
void		 mta_main(struct conf *, int fd) __attribute__((__noreturn__));
extern struct conf	*mta_conf;
/* The TLS settings, made before the chroot (CA certificates). */
struct tls_config	*mta_tls_config(int verify);
/* The relay secret, read before the chroot; NULL if none. */
const char	*mta_relay_user(void);
const char	*mta_relay_password(void);
/* A final result for one recipient (logged, sent to the queue). */
void		 mta_rcpt_result(struct mta_transfer *, size_t idx,
		    enum mta_status, const char *reply, const char *relay,
		    const char *tls);
/* Every recipient without a result gets this one; frees the transfer. */
void		 mta_done(struct mta_transfer *, enum mta_status,
		    const char *reply, const char *relay, const char *tls);

/* mta_dns.c */
/*
 * Fill t->routes from the DNS (or the relay host) and call
 * mta_routes_ready(t, status, reply): MTA_OK with routes, otherwise the
 * failure for every recipient.
 */
void		 mta_dns_init(struct conf *);
void		 mta_dns_start(void);		/* after the chroot */
void		 mta_dns_lookup(struct mta_transfer *);
void		 mta_dns_cancel(struct mta_transfer *);
void		 mta_routes_ready(struct mta_transfer *, enum mta_status,
		    const char *reply);

/* mta_session.c */
void		 mta_session_start(struct mta_transfer *);
void		 mta_session_cancel(struct mta_transfer *);

#endif
