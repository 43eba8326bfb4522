/*
 * fuzz_imsg: libFuzzer target for the receiving side of lib/imsg.c and
 * lib/proto_msgs.c.  The input is written into a socketpair as a peer
 * would send it; every message that comes out is taken apart with the
 * getters, driven by its own bytes, and unpacked as its own type and as
 * each of the messages with a list (imsg_unpack, rec_*_next): neither
 * may read past its payload.
 *
 * Build and run from the top of the tree:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -std=gnu11 \
 *       -D_GNU_SOURCE -Ilib -isystem /usr/include/bsd -DLIBBSD_OVERLAY \
 *       -o regress/fuzz/fuzz_imsg regress/fuzz/fuzz_imsg.c lib/imsg.c \
 *       lib/proto_msgs.c $(pkg-config --libs libevent)
 *   ./regress/fuzz/fuzz_imsg -max_total_time=60
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imsg.h"
#include "log.h"
#include "proto.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Quiet stand-ins for lib/log.c: bad input is the normal case here. */
void
log_warnx(const char *fmt, ...)
{
}

void
log_warn(const char *fmt, ...)
{
}

void
fatal(const char *fmt, ...)
{
	abort();
}

void
fatalx(const char *fmt, ...)
{
	abort();
}

static void
take_apart(struct imsg *imsg)
{
	uint8_t		 u8, op;
	uint16_t	 u16;
	uint32_t	 u32;
	uint64_t	 u64;
	char		 str[300];
	const void	*blob;
	size_t		 len, steps;

	/* The first payload byte, if any, chooses the order of getters. */
	op = imsg->len > 0 ? imsg->data[0] : 0;
	for (steps = 0; steps < 64; steps++) {
		switch ((op + steps) % 6) {
		case 0:
			imsg_get_u8(imsg, &u8);
			break;
		case 1:
			imsg_get_u16(imsg, &u16);
			break;
		case 2:
			imsg_get_u32(imsg, &u32);
			break;
		case 3:
			imsg_get_u64(imsg, &u64);
			break;
		case 4:
			if (imsg_get_str(imsg, str, sizeof(str)) == 0 &&
			    strlen(str) >= sizeof(str))
				abort();
			break;
		case 5:
			if (imsg_get_blob(imsg, &blob, &len) == 0 &&
			    (const uint8_t *)blob + len >
			    imsg->data + imsg->len)
				abort();
			break;
		}
		if (imsg->rpos > imsg->len)
			abort();
	}
	imsg_get_end(imsg);
}

/* Unpack a copy of imsg as type; walk its list, if any. */
static void
unpack_as(const struct imsg *orig, uint32_t type)
{
	struct imsg		 imsg = *orig;
	union imsg_msg		 u;
	struct rec_auth_rcpt	 a;
	struct rec_commit_rcpt	 c;
	struct rec_transfer_rcpt t;

	imsg.hdr.type = type;
	if ((imsg.data = malloc(orig->len + 1)) == NULL)
		abort();
	memcpy(imsg.data, orig->data, orig->len);
	if (imsg_unpack(&imsg, &u) == 0) {
		switch (type) {
		case IMSG_AUTH_RCPT_RESULT:
			while (rec_auth_rcpt_next(&imsg,
			    &u.auth_rcpt_result.rcpts, &a) == 0)
				if (strlen(a.mailbox) > ADDR_MAX)
					abort();
			break;
		case IMSG_QUEUE_MSG_COMMIT:
			while (rec_commit_rcpt_next(&imsg,
			    &u.queue_msg_commit.rcpts, &c) == 0)
				if (strlen(c.rcpt) > ADDR_MAX ||
				    strlen(c.orcpt) > ADDR_MAX)
					abort();
			break;
		case IMSG_MTA_TRANSFER:
			while (rec_transfer_rcpt_next(&imsg,
			    &u.mta_transfer.rcpts, &t) == 0)
				if (strlen(t.rcpt) > ADDR_MAX)
					abort();
			break;
		}
	}
	free(imsg.data);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imsgbuf	 ib;
	struct imsg	 imsg;
	int		 sv[2], rv;
	ssize_t		 n;

	if (size > 65536)
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		abort();
	if (size > 0 && write(sv[0], data, size) != (ssize_t)size)
		abort();
	close(sv[0]);

	imsgbuf_init(&ib, sv[1]);
	for (;;) {
		n = imsgbuf_read(&ib);
		while ((rv = imsg_get(&ib, &imsg)) == 1) {
			if (imsg.fd != -1)
				abort();	/* none was sent */
			unpack_as(&imsg, imsg.hdr.type);
			unpack_as(&imsg, IMSG_AUTH_RCPT_RESULT);
			unpack_as(&imsg, IMSG_QUEUE_MSG_COMMIT);
			unpack_as(&imsg, IMSG_MTA_TRANSFER);
			take_apart(&imsg);
			imsg_free(&imsg);
		}
		if (rv == -1 || n <= 0)
			break;
	}
	imsgbuf_clear(&ib);
	close(sv[1]);
	return 0;
}
