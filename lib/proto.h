/*
 * The whole conversation of the suite.  Every imsg type spoken between
 * tsamba processes is defined once, with the fields of its payload in
 * order, in proto_msgs.def; this header expands that table into the type
 * enum, a struct per message and the pack/unpack prototypes
 * (proto_msgs.c), and holds the status codes the answers carry.  Field
 * types: u8/u32/u64 little-endian integers, str (u16 length + bytes, no
 * NUL), blob (u32 length + bytes), lists (u32 n + n elements), and an
 * fd passed with the message where the type allows one.
 *
 * Every channel opens with IMSG_HELLO from both sides; a peer of another
 * PROTO_VERSION is refused (channel.c).
 */

#ifndef TSAMBA_PROTO_H
#define TSAMBA_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "imsg.h"

/* 2: MSG_COMMIT's held, SMTP_CONNECT's index (milters). */
#define PROTO_VERSION		2

/* Lengths shared by every process. */
#define ADDR_MAX		256	/* RFC 5321 path, 4.5.3.1.3 */
#define MSGID_LEN		16	/* hex digits of a queue id */
#define ALIAS_EXPAND_MAX	256	/* recipients one alias may yield */

/* Wire bounds of the fields in proto_msgs.def. */
#define PROTO_NAME_MAX		255	/* a pki, a HELO name, a process */
#define PROTO_HOST_MAX		127	/* a client address or domain text */
#define PROTO_PATH_MAX		1023	/* a Maildir path */
#define PROTO_TEXT_MAX		1023	/* a reply or log line */
#define PROTO_RCPT_MAX		(IMSG_MAXPAYLOAD / 2)	/* list elements */
#define PROTO_KEYID_LEN		32	/* KEYOP_ID_LEN */
#define PROTO_KEYINPUT_MAX	1024	/* KEYOP_INPUT_MAX */
#define PROTO_TOKEN_MAX		64	/* a LOGIN token, hex */
#define PROTO_PREPEND_MAX	8192	/* header fields before the message */
#define PROTO_DNS_TEXT_MAX	8192	/* one TXT record, strings joined */
#define PROTO_DNS_RR_MAX	64	/* DNSQ_RR_MAX */

/* May a type carry a file descriptor (MSG's fourth argument)? */
#define IMSG_NOFD		0
#define IMSG_FD			1

enum imsg_type {
	IMSG_NONE = 0,
#define MSG(up, num, lo, fd)	IMSG_##up = num,
#include "proto_msgs.def"
};

/*
 * A list field: on packing, n is the number of elements the sender
 * then adds with rec_<name>_pack(); after unpacking, rec_<name>_next()
 * returns them in order.
 */
struct imsg_list {
	uint32_t	 n;
	uint32_t	 left;	/* not yet returned by _next() */
	size_t		 off;	/* of the next element in the payload */
};

/*
 * One struct per message and list element, a member per field.  After
 * unpacking, strings (NUL-terminated) and blobs point into the imsg and
 * live until imsg_free().  For packing, a NULL string is "".
 */
#define MSG(up, num, lo, fd)	struct msg_##lo {
#define REC(lo)			struct rec_##lo {
#define F_U8(f)			uint8_t f;
#define F_U32(f)		uint32_t f;
#define F_U64(f)		uint64_t f;
#define F_STR(f, max)		const char *f;
#define F_BLOB(f, max)		const void *f; size_t f##_len;
#define F_LIST(f, rec, max)	struct imsg_list f;
#define F_END			};
#include "proto_msgs.def"

/* Every message unpacked, as the channel layer hands it to a handler. */
union imsg_msg {
#define MSG(up, num, lo, fd)	struct msg_##lo lo;
#include "proto_msgs.def"
};

struct ibuf;
struct imsg;

/*
 * msg_<name>_pack(): a new ibuf of the type with the fields up to its
 * list (or all of them), NULL when out of memory; an over-long string
 * marks the ibuf in error, so imsg_close() refuses it.  A message with a
 * list gets its elements with rec_<name>_pack() and then the fields
 * after the list with msg_<name>_pack_tail().
 */
#define MSG(up, num, lo, fd)						\
	struct ibuf *msg_##lo##_pack(const struct msg_##lo *, int);	\
	void msg_##lo##_pack_tail(struct ibuf *, const struct msg_##lo *);
#define REC(lo)								\
	void rec_##lo##_pack(struct ibuf *, const struct rec_##lo *);	\
	int rec_##lo##_next(struct imsg *, struct imsg_list *,		\
	    struct rec_##lo *);
#include "proto_msgs.def"

/*
 * Unpack a whole message of its header's type: -1 on an unknown type,
 * short or trailing payload, a NUL inside or an over-long string, a
 * list longer than its bound.  Strings are NUL-terminated in place, so
 * an imsg is unpacked once.
 */
int		 imsg_unpack(struct imsg *, union imsg_msg *);
/* "AUTH_LOOKUP_RCPT", or "unknown" */
const char	*imsg_type_name(uint32_t);
/* 1 known type, 0 unknown */
int		 imsg_type_known(uint32_t);
/* 1 if the type may carry an fd */
int		 imsg_type_fd(uint32_t);

enum mta_status {
	MTA_OK = 0,
	MTA_TEMPFAIL,		/* 4xx, connection lost: retry */
	MTA_PERMFAIL,		/* 5xx, null MX: bounce */
};

#define RCPT_LOCAL		0x01
/* Deliver into the Junk folder (a DMARC quarantine, smtp_check.c). */
#define RCPT_JUNK		0x02
/*
 * The LMTP RCPT parameter that asks tsamba-lmtpd for a folder of the
 * mailbox ("=Junk"); offered in LHLO, and obeyed, only when the peer
 * is the queue's uid.
 */
#define LMTP_FOLDER_PARAM	"X-TSAMBA-FOLDER"

/* AUTH_LOGIN's token for imap/pop3: seconds it may wait for AUTH_REDEEM. */
#define AUTH_TOKEN_TTL		30

enum mail_status {
	MAIL_OK = 0,
	MAIL_TEMPFAIL,		/* authd down, fork failed: NO [UNAVAILABLE] */
	MAIL_REFUSED,		/* token not redeemed: NO [AUTHENTICATIONFAILED] */
	MAIL_LIMIT,		/* sessions per user: NO [LIMIT] */
};

enum connect_target {
	CONNECT_AUTHD = 1,
	CONNECT_QUEUE,
	CONNECT_MILTER,		/* smtpd only: a UNIX-socket milter */
};

enum lookup_status {
	LOOKUP_OK = 0,
	LOOKUP_NOUSER,		/* hosted domain, no such mailbox: 550 5.1.1 */
	LOOKUP_NOTHOSTED,	/* not ours: relay, 554 5.7.1 unless allowed */
	LOOKUP_TEMPFAIL,	/* backend unavailable: 451 4.3.0 */
	LOOKUP_INVALID,		/* malformed address: 501 5.1.3 */
};

enum auth_status {
	AUTH_OK = 0,
	AUTH_FAIL,		/* wrong user or password: 535 5.7.8 */
	AUTH_TEMPFAIL,		/* backend down: 454 4.7.0 */
	AUTH_BANNED,		/* client ip banned: 421 4.7.0 */
};

enum queue_status {
	QUEUE_OK = 0,
	QUEUE_TEMPFAIL,		/* disk full, I/O error: 451 4.3.0 */
	QUEUE_INVALID,		/* bad envelope: 554 5.6.0 */
};

enum deliver_status {
	DELIVER_OK = 0,
	DELIVER_TEMPFAIL,	/* 451 4.2.0 / 452 4.2.2 (disk full) */
	DELIVER_PERMFAIL,	/* 552 5.2.2 quota, 550 5.2.0 */
};

#endif
