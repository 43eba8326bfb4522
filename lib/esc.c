/*
 * Enhanced status codes (RFC 3463): the one table of the subjects and
 * details tsamba uses, with their meanings, and their text form.
 */

#include <stdarg.h>
#include <stdio.h>

#include "esc.h"

static const struct esc_entry {
	enum esc_code	 code;
	const char	*description;
} esc_table[] = {
	{ ESC_OTHER_STATUS,		"Other undefined Status" },
	{ ESC_OTHER_ADDRESS_STATUS,	"Other address status" },
	{ ESC_BAD_DESTINATION_MAILBOX,	"Bad destination mailbox address" },
	{ ESC_BAD_DESTINATION_SYSTEM,	"Bad destination system address" },
	{ ESC_BAD_DESTINATION_SYNTAX,	"Bad destination mailbox address "
					"syntax" },
	{ ESC_DESTINATION_VALID,	"Destination address valid" },
	{ ESC_BAD_SENDER_SYNTAX,	"Bad sender's mailbox address "
					"syntax" },
	{ ESC_DESTINATION_NULL_MX,	"Recipient address has null MX" },
	{ ESC_OTHER_MAILBOX_STATUS,	"Other or undefined mailbox status" },
	{ ESC_MAILBOX_FULL,		"Mailbox full" },
	{ ESC_OTHER_MAIL_SYSTEM_STATUS,	"Other or undefined mail system "
					"status" },
	{ ESC_MAIL_SYSTEM_FULL,		"Mail system full" },
	{ ESC_SYSTEM_NOT_ACCEPTING,	"System not accepting network "
					"messages" },
	{ ESC_MESSAGE_TOO_BIG,		"Message too big for system" },
	{ ESC_OTHER_NETWORK_STATUS,	"Other or undefined network or "
					"routing status" },
	{ ESC_NO_ANSWER_FROM_HOST,	"No answer from host" },
	{ ESC_BAD_CONNECTION,		"Bad connection" },
	{ ESC_ROUTING_SERVER_FAILURE,	"Routing server failure" },
	{ ESC_UNABLE_TO_ROUTE,		"Unable to route" },
	{ ESC_DELIVERY_TIME_EXPIRED,	"Delivery time expired" },
	{ ESC_OTHER_PROTOCOL_STATUS,	"Other or undefined protocol status" },
	{ ESC_INVALID_COMMAND,		"Invalid command" },
	{ ESC_SYNTAX_ERROR,		"Syntax error" },
	{ ESC_TOO_MANY_RECIPIENTS,	"Too many recipients" },
	{ ESC_INVALID_COMMAND_ARGUMENTS, "Invalid command arguments" },
	{ ESC_WRONG_PROTOCOL_VERSION,	"Wrong protocol version" },
	{ ESC_AUTH_LINE_TOO_LONG,	"Authentication Exchange line is too "
					"long" },
	{ ESC_OTHER_MEDIA_STATUS,	"Other or undefined media error" },
	{ ESC_CONVERSION_NOT_SUPPORTED,	"Conversion required but not "
					"supported" },
	{ ESC_NON_ASCII_NOT_PERMITTED,	"Non-ASCII addresses not permitted "
					"for that sender/recipient" },
	{ ESC_OTHER_SECURITY_STATUS,	"Other or undefined security status" },
	{ ESC_DELIVERY_NOT_AUTHORIZED,	"Delivery not authorized, message "
					"refused" },
	{ ESC_SECURITY_NOT_SUPPORTED,	"Security features not supported" },
	{ ESC_CRYPTOGRAPHIC_FAILURE,	"Cryptographic failure" },
	{ ESC_AUTH_CREDENTIALS_INVALID,	"Authentication credentials invalid" },
	{ ESC_ENCRYPTION_REQUIRED,	"Encryption required for requested "
					"authentication mechanism" },
	{ ESC_REVERSE_DNS_FAILED,	"Reverse DNS validation failed" },
};

static const struct esc_entry *
esc_find(enum esc_code code)
{
	size_t	 i;

	for (i = 0; i < sizeof(esc_table) / sizeof(esc_table[0]); i++)
		if (esc_table[i].code == code)
			return &esc_table[i];
	return NULL;
}

const char *
esc_code(enum esc_class class, enum esc_code code)
{
	static char	 buf[ESC_MAX];

	/* A code missing from the table is a bug: say "other". */
	if (esc_find(code) == NULL ||
	    (class != ESC_SUCCESS && class != ESC_TEMPFAIL &&
	    class != ESC_PERMFAIL))
		code = ESC_OTHER_STATUS;
	(void)snprintf(buf, sizeof(buf), "%d.%d.%d", class == ESC_SUCCESS ||
	    class == ESC_TEMPFAIL ? (int)class : ESC_PERMFAIL,
	    (int)code / 100, (int)code % 100);
	return buf;
}

const char *
esc_for_reply(int reply, enum esc_code code)
{
	return esc_code((enum esc_class)(reply / 100), code);
}

const char *
esc_description(enum esc_code code)
{
	const struct esc_entry	*e;

	if ((e = esc_find(code)) == NULL)
		return "Other undefined Status";
	return e->description;
}

int
esc_reply(char *buf, size_t bufsz, int reply, enum esc_code code,
    const char *fmt, ...)
{
	va_list	 ap;
	int	 n, m;

	n = snprintf(buf, bufsz, "%d %s ", reply, esc_for_reply(reply, code));
	if (n < 0)
		return n;
	va_start(ap, fmt);
	m = vsnprintf((size_t)n < bufsz ? buf + n : NULL,
	    (size_t)n < bufsz ? bufsz - n : 0, fmt, ap);
	va_end(ap);
	return m < 0 ? m : n + m;
}
