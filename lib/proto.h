/*
 * The whole conversation of the suite: every imsg type spoken between
 * tsamba processes, with the fields of its payload in order.  Field types:
 * u8/u32/u64 integers, str (u16 length + bytes), blob (u32 length + bytes),
 * fd (a descriptor passed with the message).  Every request begins with a
 * u64 id that its answer echoes.
 *
 * Every channel opens with IMSG_HELLO from both sides; a peer of another
 * PROTO_VERSION is refused.
 */

#ifndef TSAMBA_PROTO_H
#define TSAMBA_PROTO_H

#define PROTO_VERSION		1

/* Lengths shared by every process. */
#define ADDR_MAX		256	/* RFC 5321 path, 4.5.3.1.3 */
#define MSGID_LEN		16	/* hex digits of a queue id */
#define ALIAS_EXPAND_MAX	256	/* recipients one alias may yield */

enum imsg_type {
	IMSG_NONE = 0,

	/* u32 version, str who (for the log) */
	IMSG_HELLO,

	/*
	 * authd, on auth.sock.
	 * LOOKUP_RCPT: u64 id, str address.
	 * RCPT_RESULT: u64 id, u8 lookup_status, u32 n, then n times:
	 *   str mailbox, u8 flags (RCPT_LOCAL when the mailbox is hosted
	 *   here): the final recipients after alias expansion, deduplicated;
	 *   n = 0 unless LOOKUP_OK.
	 */
	IMSG_AUTH_LOOKUP_RCPT = 100,
	IMSG_AUTH_RCPT_RESULT,
	/*
	 * LOOKUP_USER: u64 id, str mailbox.
	 * USER_RESULT: u64 id, u8 lookup_status, str maildir (relative to
	 *   the mail root, "domain/user/"), u32 uid, u32 gid, u64 quota
	 *   (bytes, 0 = none).
	 */
	IMSG_AUTH_LOOKUP_USER,
	IMSG_AUTH_USER_RESULT,
	/*
	 * LOGIN: u64 id, str user, str password, str client ip, str service
	 *   ("smtp", "imap", "pop3").  Only the smtp engine and the imap
	 *   login process may ask.
	 * LOGIN_RESULT: u64 id, u8 auth_status, str canonical user (the
	 *   table's address, "" unless AUTH_OK).
	 * A failure counts towards a ban of the client ip.
	 */
	IMSG_AUTH_LOGIN,
	IMSG_AUTH_LOGIN_RESULT,
	/*
	 * CHECK_SENDER: u64 id, str user (canonical), str sender address.
	 * SENDER_RESULT: u64 id, u8 lookup_status: LOOKUP_OK when the
	 *   sender is the user or an alias that points only to that user,
	 *   LOOKUP_NOUSER otherwise, LOOKUP_TEMPFAIL.
	 */
	IMSG_AUTH_CHECK_SENDER,
	IMSG_AUTH_SENDER_RESULT,
	/*
	 * CHECK_BAN: u64 id, str client ip (at connect).
	 * BAN_RESULT: u64 id, u8 0 not banned / 1 banned, u64 ban end
	 *   (unix time, 0 if not banned).
	 */
	IMSG_AUTH_CHECK_BAN,
	IMSG_AUTH_BAN_RESULT,

	/*
	 * queue, on queue.sock (from the smtp engine).
	 * MSG_CREATE: u64 id.
	 * MSG_CREATED: u64 id, u8 queue_status, str msgid; fd of the new
	 *   message file (opened for writing) when QUEUE_OK.
	 * MSG_CREATED's fd is open for reading and writing: the engine's
	 *   milters read the message back and may rewrite it.
	 * MSG_COMMIT: u64 id, str msgid, str sender ("" = null sender),
	 *   str helo, str client address, u8 body (0 7bit, 1 8bitmime,
	 *   2 binarymime), u8 smtputf8, u32 n, then n times: str rcpt
	 *   (final mailbox), str orcpt (as given in RCPT TO), u8 flags
	 *   (RCPT_LOCAL: deliver over LMTP; otherwise it waits for remote
	 *   delivery), then str auth (the authenticated user, "" when
	 *   the session did not authenticate: DKIM signs only such mail),
	 *   then u8 held (1: a milter quarantined it, keep it on hold; an
	 *   older engine leaves it out).
	 *   The message file must be complete before MSG_COMMIT.
	 * MSG_COMMITTED: u64 id, u8 queue_status.  QUEUE_OK only once the
	 *   message and its envelope are on disk (fsynced and renamed).
	 * MSG_ROLLBACK: u64 id, str msgid; no answer.
	 */
	IMSG_QUEUE_MSG_CREATE = 200,
	IMSG_QUEUE_MSG_CREATED,
	IMSG_QUEUE_MSG_COMMIT,
	IMSG_QUEUE_MSG_COMMITTED,
	IMSG_QUEUE_MSG_ROLLBACK,

	/*
	 * Inside tsamba-queue, queue process -> parent: connect to the LMTP
	 * server.  LMTP_CONNECT: u64 id.  LMTP_FD: u64 id, u8 0 ok/1 failed;
	 * fd of the connected socket when ok.
	 */
	IMSG_QUEUE_LMTP_CONNECT = 250,
	IMSG_QUEUE_LMTP_FD,

	/*
	 * Inside tsamba-smtpd, parent -> engine.
	 * LISTENER: u32 index, fd of the listening socket (once per listener
	 *   at start-up).
	 * TLS_CONFIG: str pki name, fd of the certificate chain file (PEM,
	 *   any size; no private key: the key process holds it); sent at
	 *   start-up and again on SIGHUP, each time after the key process
	 *   has loaded the matching key.  The engine builds new contexts
	 *   for new sessions and keeps the old ones for sessions still
	 *   using them.
	 * CONNECT: engine -> parent, u64 id, u8 which (CONNECT_AUTHD,
	 *   CONNECT_QUEUE, CONNECT_MILTER then u32 index of the milter in
	 *   the config: a UNIX-socket milter); CONNECTED: u64 id, u8 which,
	 *   u8 0 ok/1 failed, fd of the connected socket.  The engine lives in an empty chroot
	 *   and gets its channels to authd and queue this way, at start and
	 *   whenever a channel is lost.
	 * READY: parent -> engine, no payload: start accepting.
	 */
	IMSG_SMTP_LISTENER = 300,
	IMSG_SMTP_TLS_CONFIG,
	IMSG_SMTP_CONNECT,
	IMSG_SMTP_CONNECTED,
	IMSG_SMTP_READY,

	/*
	 * Inside tsamba-lmtpd.
	 * LISTENER: parent -> engine, fd of a listening socket.
	 * CONNECT/CONNECTED: as for smtpd (CONNECT_AUTHD only).
	 * DELIVER: engine -> parent -> writer, u64 id, str maildir (relative
	 *   to the mail root), u32 uid, u32 gid, u64 quota, str prefix; fd of
	 *   the message (read from offset 0).  prefix holds the Return-Path
	 *   and Delivered-To lines of this recipient, written before the
	 *   body, so one sealed body file serves every recipient.
	 * DELIVERED: writer -> parent -> engine, u64 id, u8 deliver_status,
	 *   str text for the log and the LMTP reply.
	 */
	IMSG_LMTP_LISTENER = 400,
	IMSG_LMTP_CONNECT,
	IMSG_LMTP_CONNECTED,
	IMSG_LMTP_DELIVER,
	IMSG_LMTP_DELIVERED,

	/*
	 * Inside tsamba-queue, queue process <-> mta process (socketpair).
	 * TRANSFER: u64 id, str msgid, str sender, str domain (the
	 *   destination: recipients of one domain travel together), u8 body
	 *   (as in MSG_COMMIT), u8 smtputf8, u32 n, str rcpt * n, str
	 *   prefix (header lines, e.g. DKIM-Signature, sent before the
	 *   message); fd of the message file, read-only, from offset 0.
	 * RCPT_RESULT: u64 id, u32 index (into the TRANSFER list), u8
	 *   mta_status, str reply (the remote server's text, or ours),
	 *   str relay ("mx.example.net [192.0.2.1]" or "").
	 * DONE: u64 id, u8 mta_status, str reply: every recipient without
	 *   a RCPT_RESULT gets this one; ends the transfer.
	 */
	IMSG_MTA_TRANSFER = 500,
	IMSG_MTA_RCPT_RESULT,
	IMSG_MTA_DONE,

	/*
	 * The key process of a daemon whose network-facing process has
	 * certificates only (keyop.h).
	 * KEY_LOAD: parent -> key process, str pki name, fd of the private
	 *   key file (PEM).  KEY_LOADED: key process -> parent, str pki
	 *   name, u8 0 ok / 1 refused.
	 * On a socketpair of their own, network-facing process -> key
	 * process, one question at a time:
	 * KEY_RSA_PRIV_ENC, KEY_RSA_PRIV_DEC: u64 id, blob key id (32
	 *   bytes, keyop_id_rsa()), u32 padding (RSA_*_PADDING), blob
	 *   input (at most KEYOP_INPUT_MAX bytes).
	 * KEY_ECDSA_SIGN: u64 id, blob key id (keyop_id_ec()), u32 0,
	 *   blob digest.
	 * KEY_RESULT: u64 id, u8 0 ok / 1 refused, blob output (the RSA
	 *   block, or the DER ECDSA signature).
	 */
	IMSG_KEY_LOAD = 600,
	IMSG_KEY_LOADED,
	IMSG_KEY_RSA_PRIV_ENC,
	IMSG_KEY_RSA_PRIV_DEC,
	IMSG_KEY_ECDSA_SIGN,
	IMSG_KEY_RESULT,

	/*
	 * control.sock of each daemon, spoken by tsambactl (root only).
	 * CTL_BAN_LIST: u64 id.  CTL_BAN_ENTRY: u64 id, str ip, u64 end,
	 *   u32 failures, once per ban, then CTL_DONE: u64 id, u8 0 ok /
	 *   1 failed, str message.
	 * CTL_BAN_ADD: u64 id, str ip or network, u64 seconds (0 =
	 *   default duration).  CTL_BAN_DEL: u64 id, str ip.  Both answer
	 *   CTL_DONE.
	 */
	IMSG_CTL_BAN_LIST = 900,
	IMSG_CTL_BAN_ENTRY,
	IMSG_CTL_BAN_ADD,
	IMSG_CTL_BAN_DEL,
	IMSG_CTL_DONE,
	/*
	 * Queue control (queue.control.sock, root only).
	 * CTL_QUEUE_LIST: u64 id.  CTL_QUEUE_ENTRY: u64 id, str msgid,
	 *   str sender, u32 nrcpt, u64 size, u64 created, u64 next try,
	 *   u8 held, str last error, once per message, then CTL_DONE.
	 * CTL_QUEUE_SHOW: u64 id, str msgid -> CTL_QUEUE_DETAIL: u64 id,
	 *   str text (the envelope, human readable), then CTL_DONE.
	 * CTL_QUEUE_FLUSH: u64 id, str msgid or domain or "" (all).
	 * CTL_QUEUE_HOLD / CTL_QUEUE_RELEASE: u64 id, str msgid.
	 * CTL_QUEUE_DEL: u64 id, str msgid, u8 silent (1 = no bounce).
	 * All answer CTL_DONE.
	 */
	IMSG_CTL_QUEUE_LIST = 920,
	IMSG_CTL_QUEUE_ENTRY,
	IMSG_CTL_QUEUE_SHOW,
	IMSG_CTL_QUEUE_DETAIL,
	IMSG_CTL_QUEUE_FLUSH,
	IMSG_CTL_QUEUE_HOLD,
	IMSG_CTL_QUEUE_RELEASE,
	IMSG_CTL_QUEUE_DEL,
};

enum mta_status {
	MTA_OK = 0,
	MTA_TEMPFAIL,		/* 4xx, connection lost: retry */
	MTA_PERMFAIL,		/* 5xx, null MX: bounce */
};

#define RCPT_LOCAL		0x01

enum connect_target {
	CONNECT_AUTHD = 1,
	CONNECT_QUEUE,
	CONNECT_MILTER,		/* smtpd only: a milter's UNIX socket */
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
