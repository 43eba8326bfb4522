/*
 * Unit tests for lib/milter.c: the packets built for a milter (byte for
 * byte as the protocol lays them out), framing of replies, and the
 * reply parser on good and bad input.
 */

#include <arpa/inet.h>

#include <stdlib.h>
#include <string.h>

#include "milter.h"
#include "unit.h"

static int
packet_is(const struct milter_out *o, size_t off, char cmd, const void *data,
    size_t len)
{
	uint32_t	 n;

	if (o->len < off + 5 + len)
		return 0;
	memcpy(&n, o->buf + off, 4);
	return ntohl(n) == len + 1 && o->buf[off + 4] == (uint8_t)cmd &&
	    memcmp(o->buf + off + 5, data, len) == 0;
}

static void
test_build(void)
{
	struct milter_out	 o;
	struct milter_macro	 m[] = {
		{ "j", "mx.example.org" },
		{ "{auth_authen}", NULL },
		{ "i", "ABC" },
	};
	const char		*mail[] = { "<a@b.example>", "SIZE=10" };
	static const uint8_t	 optneg[] = { 0, 0, 0, 6, 0, 0, 0, 0x1f,
	    0, 0x1f, 0xff, 0xff };
	static const char	 conn[] = "host\0004\x30\x39" "192.0.2.1";
	static const char	 macros[] = "Cj\0mx.example.org\0i\0ABC";
	char			*big;

	milter_out_init(&o, 1 << 20);
	CHECK(milter_put_optneg(&o, 6, 0x1f, 0x1fffff) == 0);
	CHECK(packet_is(&o, 0, SMFIC_OPTNEG, optneg, sizeof(optneg)));
	milter_out_reset(&o);
	CHECK(milter_put_connect(&o, "host", '4', 12345, "192.0.2.1") == 0);
	CHECK(packet_is(&o, 0, SMFIC_CONNECT, conn, sizeof(conn)));
	milter_out_reset(&o);
	CHECK(milter_put_connect(&o, "host", 0, 0, NULL) == 0);
	CHECK(packet_is(&o, 0, SMFIC_CONNECT, "host\0U", 6));
	milter_out_reset(&o);
	CHECK(milter_put_macros(&o, SMFIC_CONNECT, m, 3) == 0);
	CHECK(packet_is(&o, 0, SMFIC_MACRO, macros, sizeof(macros)));
	milter_out_reset(&o);
	CHECK(milter_put_mail(&o, mail, 2) == 0);
	CHECK(packet_is(&o, 0, SMFIC_MAIL, "<a@b.example>\0SIZE=10", 22));
	milter_out_reset(&o);
	CHECK(milter_put_header(&o, "Subject", " hi") == 0);
	CHECK(milter_put_eoh(&o) == 0);
	CHECK(packet_is(&o, 0, SMFIC_HEADER, "Subject\0 hi", 12));
	CHECK(packet_is(&o, 17, SMFIC_EOH, "", 0));
	milter_out_reset(&o);

	/* Body chunks: at most 65535 bytes each. */
	big = calloc(1, MILTER_CHUNK_MAX + 1);
	CHECK(big != NULL);
	CHECK(milter_put_body(&o, big, MILTER_CHUNK_MAX) == 0);
	CHECK(o.len == MILTER_CHUNK_MAX + 5);
	CHECK(milter_put_body(&o, big, MILTER_CHUNK_MAX + 1) == -1);
	CHECK(o.error);
	free(big);
	milter_out_free(&o);

	/* A buffer limit holds. */
	milter_out_init(&o, 16);
	CHECK(milter_put_helo(&o, "client.example") == -1);
	CHECK(o.len == 0);
	milter_out_free(&o);
}

static void
test_frame(void)
{
	static const uint8_t	 two[] = { 0, 0, 0, 1, 'c', 0, 0, 0, 1, 'a' };
	static const uint8_t	 huge[] = { 0x7f, 0, 0, 0, 'b' };
	static const uint8_t	 zero[] = { 0, 0, 0, 0, 'c' };
	const uint8_t		*data;
	size_t			 dlen, used;
	char			 cmd;

	CHECK(milter_frame(two, 3, 1024, &cmd, &data, &dlen, &used) == 0);
	CHECK(milter_frame(two, 4, 1024, &cmd, &data, &dlen, &used) == 0);
	CHECK(milter_frame(two, sizeof(two), 1024, &cmd, &data, &dlen,
	    &used) == 1);
	CHECK(cmd == 'c' && dlen == 0 && used == 5);
	CHECK(milter_frame(two + 5, 5, 1024, &cmd, &data, &dlen, &used) == 1);
	CHECK(cmd == 'a');
	CHECK(milter_frame(huge, sizeof(huge), 1024, &cmd, &data, &dlen,
	    &used) == -1);
	CHECK(milter_frame(zero, sizeof(zero), 1024, &cmd, &data, &dlen,
	    &used) == -1);
}

static int
parse(char cmd, const char *data, size_t len, struct milter_reply *r)
{
	char	 err[128];

	return milter_parse_reply(cmd, (const uint8_t *)data, len, r, err,
	    sizeof(err));
}

static void
test_parse(void)
{
	struct milter_reply	 r;
	static const char	 optneg[] = { 0, 0, 0, 6, 0, 0, 0, 0x21,
	    0, 0, 0x10, 0x80 };
	static const char	 ins[] = "\0\0\0\2X-Spam\0yes";
	char			 err[128];

	CHECK(parse(SMFIR_CONTINUE, "", 0, &r) == 0);
	CHECK(parse(SMFIR_ACCEPT, "x", 1, &r) == -1);
	CHECK(parse(SMFIC_OPTNEG, optneg, sizeof(optneg), &r) == 0);
	CHECK(r.version == 6 && r.actions == 0x21 && r.proto == 0x1080);
	CHECK(milter_check_optneg(&r, MILTER_ACTIONS_OFFERED,
	    MILTER_PROTO_OFFERED, err, sizeof(err)) == 0);
	r.actions |= SMFIF_SETSYMLIST;
	CHECK(milter_check_optneg(&r, MILTER_ACTIONS_OFFERED,
	    MILTER_PROTO_OFFERED, err, sizeof(err)) == -1);
	r.actions &= ~SMFIF_SETSYMLIST;
	r.version = 7;
	CHECK(milter_check_optneg(&r, MILTER_ACTIONS_OFFERED,
	    MILTER_PROTO_OFFERED, err, sizeof(err)) == -1);
	CHECK(parse(SMFIC_OPTNEG, optneg, 8, &r) == -1);

	CHECK(parse(SMFIR_ADDHEADER, "X-Spam\0yes", 11, &r) == 0);
	CHECK(strcmp(r.name, "X-Spam") == 0 && strcmp(r.value, "yes") == 0);
	CHECK(parse(SMFIR_ADDHEADER, "X-Spam\0yes", 10, &r) == -1);
	CHECK(parse(SMFIR_ADDHEADER, "X Spam\0yes", 11, &r) == -1);
	CHECK(parse(SMFIR_ADDHEADER, "X-A\0a\r\n b", 10, &r) == 0);
	CHECK(parse(SMFIR_ADDHEADER, "X-A\0a\r\nb", 9, &r) == -1);
	CHECK(parse(SMFIR_ADDHEADER, "X-A\0a\rb", 8, &r) == -1);
	CHECK(parse(SMFIR_INSHEADER, ins, sizeof(ins), &r) == 0);
	CHECK(r.index == 2 && strcmp(r.name, "X-Spam") == 0);
	CHECK(parse(SMFIR_CHGHEADER, "\0\0\0\1Subject\0", 13, &r) == 0);
	CHECK(r.index == 1 && r.value[0] == '\0');
	CHECK(parse(SMFIR_CHGHEADER, "\0\0\0", 3, &r) == -1);

	CHECK(parse(SMFIR_ADDRCPT, "<x@y>", 6, &r) == 0);
	CHECK(strcmp(r.addr, "<x@y>") == 0 && r.args[0] == '\0');
	CHECK(parse(SMFIR_ADDRCPT, "", 1, &r) == -1);
	CHECK(parse(SMFIR_ADDRCPT_PAR, "<x@y>\0NOTIFY=NEVER", 19, &r) == 0);
	CHECK(strcmp(r.args, "NOTIFY=NEVER") == 0);
	CHECK(parse(SMFIR_CHGFROM, "<n@y>", 6, &r) == 0);
	CHECK(parse(SMFIR_DELRCPT, "<x@y>\0extra", 12, &r) == -1);
	CHECK(parse(SMFIR_REPLBODY, "abc", 3, &r) == 0);
	CHECK(r.bodylen == 3 && memcmp(r.body, "abc", 3) == 0);
	CHECK(parse(SMFIR_QUARANTINE, "spam", 5, &r) == 0);
	CHECK(strcmp(r.text, "spam") == 0);
	CHECK(parse(SMFIR_QUARANTINE, "sp\nam", 6, &r) == -1);

	/* Reply codes. */
	CHECK(parse(SMFIR_REPLYCODE, "550 5.7.1 Go away", 18, &r) == 0);
	CHECK(r.code == 550 && strcmp(r.text, "550 5.7.1 Go away") == 0);
	CHECK(parse(SMFIR_REPLYCODE, "451 4.7.1 Later", 16, &r) == 0);
	CHECK(parse(SMFIR_REPLYCODE, "550-5.7.1 a\r\n550 5.7.1 b", 25,
	    &r) == 0);
	CHECK(parse(SMFIR_REPLYCODE, "550-5.7.1 a\r\n551 5.7.1 b", 25,
	    &r) == -1);
	CHECK(parse(SMFIR_REPLYCODE, "550-5.7.1 a", 12, &r) == -1);
	CHECK(parse(SMFIR_REPLYCODE, "250 2.0.0 ok", 13, &r) == -1);
	CHECK(parse(SMFIR_REPLYCODE, "550 4.7.1 mixed", 16, &r) == -1);
	CHECK(parse(SMFIR_REPLYCODE, "55x no", 7, &r) == -1);
	CHECK(parse(SMFIR_REPLYCODE, "550 a\nb", 8, &r) == -1);
	CHECK(parse(SMFIR_REPLYCODE, "550 a\r\n", 8, &r) == -1);
	CHECK(parse(SMFIR_REPLYCODE, "550 text", 8, &r) == -1);
	CHECK(parse(SMFIR_REPLYCODE, "550", 4, &r) == 0);
	CHECK(parse('Z', "", 0, &r) == -1);
}

int
main(void)
{
	test_build();
	test_frame();
	test_parse();
	return unit_done("test_milter");
}
