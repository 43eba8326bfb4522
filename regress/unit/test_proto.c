/*
 * Unit tests for lib/proto_msgs.c, the pack/unpack functions expanded
 * from proto_msgs.def: a round trip of each message that carries a list,
 * and refusal of a short payload, a trailing byte, an over-long string,
 * a NUL inside a string and a list over its bound; the type names and
 * the fd rule.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imsg.h"
#include "proto.h"
#include "unit.h"

/* The message an ibuf would be on arrival, cut or grown by delta bytes. */
static void
as_received(struct ibuf *b, struct imsg *imsg, int delta)
{
	size_t	 len = b->wpos - IMSG_HDRSIZE;

	memset(imsg, 0, sizeof(*imsg));
	memcpy(&imsg->hdr, b->buf, sizeof(imsg->hdr));
	imsg->fd = -1;
	imsg->len = len + delta;
	if ((imsg->data = calloc(1, len + 1)) == NULL)
		abort();
	memcpy(imsg->data, b->buf + IMSG_HDRSIZE, len);
}

/* 0 if the ibuf unpacks whole, and neither cut nor grown by one byte. */
static int
strict(struct ibuf *b, union imsg_msg *u, struct imsg *out)
{
	struct imsg	 imsg;
	int		 bad = 0;

	as_received(b, &imsg, -1);
	bad |= imsg_unpack(&imsg, u) != -1;
	imsg_free(&imsg);
	as_received(b, &imsg, 1);
	bad |= imsg_unpack(&imsg, u) != -1;
	imsg_free(&imsg);
	as_received(b, out, 0);
	if (imsg_unpack(out, u) == -1)
		bad = 1;
	return bad ? -1 : 0;
}

static void
test_rcpt_result(void)
{
	struct msg_auth_rcpt_result	 m = { .id = 7, .status = LOOKUP_OK };
	struct rec_auth_rcpt		 e;
	union imsg_msg			 u;
	struct imsg			 imsg;
	struct ibuf			*b;
	char				 big[ADDR_MAX + 2];

	m.rcpts.n = 2;
	CHECK((b = msg_auth_rcpt_result_pack(&m, -1)) != NULL);
	rec_auth_rcpt_pack(b, &(struct rec_auth_rcpt){ "a@x.test", 1 });
	rec_auth_rcpt_pack(b, &(struct rec_auth_rcpt){ "", 0 });
	msg_auth_rcpt_result_pack_tail(b, &m);
	CHECK(!b->error);
	CHECK(strict(b, &u, &imsg) == 0);
	CHECK(u.auth_rcpt_result.id == 7);
	CHECK(u.auth_rcpt_result.rcpts.n == 2);
	CHECK(rec_auth_rcpt_next(&imsg, &u.auth_rcpt_result.rcpts, &e) == 0);
	CHECK(strcmp(e.mailbox, "a@x.test") == 0 && e.flags == 1);
	CHECK(rec_auth_rcpt_next(&imsg, &u.auth_rcpt_result.rcpts, &e) == 0);
	CHECK(strcmp(e.mailbox, "") == 0 && e.flags == 0);
	CHECK(rec_auth_rcpt_next(&imsg, &u.auth_rcpt_result.rcpts, &e) == -1);
	imsg_free(&imsg);
	ibuf_free(b);

	/* One element fewer than the count says: short. */
	m.rcpts.n = 2;
	b = msg_auth_rcpt_result_pack(&m, -1);
	rec_auth_rcpt_pack(b, &(struct rec_auth_rcpt){ "a@x.test", 1 });
	as_received(b, &imsg, 0);
	CHECK(imsg_unpack(&imsg, &u) == -1);
	imsg_free(&imsg);
	ibuf_free(b);

	/* An over-long mailbox is refused when packed... */
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	m.rcpts.n = 1;
	b = msg_auth_rcpt_result_pack(&m, -1);
	rec_auth_rcpt_pack(b, &(struct rec_auth_rcpt){ big, 0 });
	CHECK(b->error);
	ibuf_free(b);
	/* ...and when it arrives anyway. */
	b = msg_auth_rcpt_result_pack(&m, -1);
	ibuf_add_str(b, big);
	ibuf_add_u8(b, 0);
	as_received(b, &imsg, 0);
	CHECK(imsg_unpack(&imsg, &u) == -1);
	imsg_free(&imsg);
	ibuf_free(b);

	/* More elements than the bound. */
	m.rcpts.n = ALIAS_EXPAND_MAX + 1;
	b = msg_auth_rcpt_result_pack(&m, -1);
	CHECK(b->error);
	ibuf_free(b);
}

static void
nul_inside(uint8_t c, int ok)
{
	union imsg_msg	 u;
	struct imsg	 imsg;
	struct ibuf	*b;

	b = imsg_create(IMSG_AUTH_LOOKUP_RCPT, 0, -1);
	ibuf_add_u64(b, 1);
	ibuf_add_u16(b, 3);
	ibuf_add_u8(b, 'a');
	ibuf_add_u8(b, c);
	ibuf_add_u8(b, 'b');
	as_received(b, &imsg, 0);
	CHECK((imsg_unpack(&imsg, &u) == 0) == ok);
	if (ok)
		CHECK(strcmp(u.auth_lookup_rcpt.address, "axb") == 0);
	imsg_free(&imsg);
	ibuf_free(b);
}

static void
test_commit(void)
{
	struct msg_queue_msg_commit	 m = {
		.id = 1ULL << 40, .msgid = "0123456789abcdef",
		.sender = "s@x.test", .helo = "h.test", .client = "192.0.2.1",
		.body = 1, .smtputf8 = 0, .auth = "u@x.test", .held = 1,
	};
	struct rec_commit_rcpt		 e;
	union imsg_msg			 u;
	struct imsg			 imsg;
	struct ibuf			*b;

	m.rcpts.n = 3;
	b = msg_queue_msg_commit_pack(&m, -1);
	rec_commit_rcpt_pack(b, &(struct rec_commit_rcpt){ "a@x", "A@x", 1 });
	rec_commit_rcpt_pack(b, &(struct rec_commit_rcpt){ "b@y", "", 0 });
	rec_commit_rcpt_pack(b, &(struct rec_commit_rcpt){ "c@z", NULL, 1 });
	msg_queue_msg_commit_pack_tail(b, &m);
	CHECK(!b->error);
	CHECK(strict(b, &u, &imsg) == 0);
	CHECK(u.queue_msg_commit.id == 1ULL << 40);
	CHECK(strcmp(u.queue_msg_commit.msgid, "0123456789abcdef") == 0);
	CHECK(strcmp(u.queue_msg_commit.sender, "s@x.test") == 0);
	CHECK(strcmp(u.queue_msg_commit.helo, "h.test") == 0);
	CHECK(strcmp(u.queue_msg_commit.client, "192.0.2.1") == 0);
	CHECK(u.queue_msg_commit.body == 1);
	CHECK(strcmp(u.queue_msg_commit.auth, "u@x.test") == 0);
	CHECK(u.queue_msg_commit.held == 1);
	CHECK(rec_commit_rcpt_next(&imsg, &u.queue_msg_commit.rcpts, &e) == 0);
	CHECK(strcmp(e.rcpt, "a@x") == 0 && strcmp(e.orcpt, "A@x") == 0 &&
	    e.flags == 1);
	CHECK(rec_commit_rcpt_next(&imsg, &u.queue_msg_commit.rcpts, &e) == 0);
	CHECK(strcmp(e.rcpt, "b@y") == 0 && e.orcpt[0] == '\0' &&
	    e.flags == 0);
	CHECK(rec_commit_rcpt_next(&imsg, &u.queue_msg_commit.rcpts, &e) == 0);
	CHECK(strcmp(e.rcpt, "c@z") == 0 && e.flags == 1);
	CHECK(rec_commit_rcpt_next(&imsg, &u.queue_msg_commit.rcpts, &e) ==
	    -1);
	imsg_free(&imsg);
	ibuf_free(b);

	/* The field after the list missing: short. */
	m.rcpts.n = 1;
	b = msg_queue_msg_commit_pack(&m, -1);
	rec_commit_rcpt_pack(b, &(struct rec_commit_rcpt){ "a@x", "", 1 });
	as_received(b, &imsg, 0);
	CHECK(imsg_unpack(&imsg, &u) == -1);
	imsg_free(&imsg);
	ibuf_free(b);

	/* A msgid longer than MSGID_LEN. */
	m.msgid = "0123456789abcdef0";
	b = msg_queue_msg_commit_pack(&m, -1);
	CHECK(b->error);
	ibuf_free(b);

	/* A NUL inside a string, and the same string without it. */
	nul_inside(0, 0);
	nul_inside('x', 1);
}

static void
test_transfer(void)
{
	struct msg_mta_transfer	 m = {
		.id = 3, .msgid = "00000000000000aa", .sender = "",
		.domain = "x.test", .body = 0, .smtputf8 = 1,
		.prefix = "DKIM-Signature: v=1\r\n",
	};
	struct rec_transfer_rcpt e;
	union imsg_msg		 u;
	struct imsg		 imsg;
	struct ibuf		*b;

	m.rcpts.n = 2;
	b = msg_mta_transfer_pack(&m, -1);
	rec_transfer_rcpt_pack(b, &(struct rec_transfer_rcpt){ "a@x.test" });
	rec_transfer_rcpt_pack(b, &(struct rec_transfer_rcpt){ "b@x.test" });
	msg_mta_transfer_pack_tail(b, &m);
	CHECK(!b->error);
	CHECK(strict(b, &u, &imsg) == 0);
	CHECK(strcmp(u.mta_transfer.sender, "") == 0);
	CHECK(strcmp(u.mta_transfer.domain, "x.test") == 0);
	CHECK(u.mta_transfer.smtputf8 == 1);
	CHECK(strcmp(u.mta_transfer.prefix, "DKIM-Signature: v=1\r\n") == 0);
	CHECK(rec_transfer_rcpt_next(&imsg, &u.mta_transfer.rcpts, &e) == 0);
	CHECK(strcmp(e.rcpt, "a@x.test") == 0);
	CHECK(rec_transfer_rcpt_next(&imsg, &u.mta_transfer.rcpts, &e) == 0);
	CHECK(strcmp(e.rcpt, "b@x.test") == 0);
	CHECK(rec_transfer_rcpt_next(&imsg, &u.mta_transfer.rcpts, &e) == -1);
	imsg_free(&imsg);
	ibuf_free(b);
}

static void
test_plain(void)
{
	struct msg_key_result	 m = { .id = 9, .refused = 0,
	    .output = "\0\1\2", .output_len = 3 };
	union imsg_msg		 u;
	struct imsg		 imsg;
	struct ibuf		*b;

	b = msg_key_result_pack(&m, -1);
	CHECK(strict(b, &u, &imsg) == 0);
	CHECK(u.key_result.output_len == 3 &&
	    memcmp(u.key_result.output, "\0\1\2", 3) == 0);
	imsg_free(&imsg);
	ibuf_free(b);

	/* A message of no fields, and one of an unknown type. */
	b = msg_smtp_ready_pack(&(struct msg_smtp_ready){}, -1);
	as_received(b, &imsg, 0);
	CHECK(imsg_unpack(&imsg, &u) == 0);
	imsg_free(&imsg);
	as_received(b, &imsg, 1);
	CHECK(imsg_unpack(&imsg, &u) == -1);
	imsg_free(&imsg);
	ibuf_free(b);
	b = imsg_create(7777, 0, -1);
	as_received(b, &imsg, 0);
	CHECK(imsg_unpack(&imsg, &u) == -1);
	imsg_free(&imsg);
	ibuf_free(b);

	CHECK(strcmp(imsg_type_name(IMSG_AUTH_LOOKUP_RCPT),
	    "AUTH_LOOKUP_RCPT") == 0);
	CHECK(strcmp(imsg_type_name(IMSG_CTL_QUEUE_DEL), "CTL_QUEUE_DEL") ==
	    0);
	CHECK(strcmp(imsg_type_name(7777), "unknown") == 0);
	CHECK(imsg_type_known(IMSG_HELLO) && !imsg_type_known(7777));
	CHECK(imsg_type_fd(IMSG_QUEUE_MSG_CREATED) == 1);
	CHECK(imsg_type_fd(IMSG_QUEUE_MSG_COMMIT) == 0);
	CHECK(IMSG_QUEUE_MSG_COMMITTED == 203 && IMSG_KEY_RESULT == 605);
}

int
main(void)
{
	test_rcpt_result();
	test_commit();
	test_transfer();
	test_plain();
	return unit_done("test_proto");
}
