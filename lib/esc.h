/*
 * Enhanced mail system status codes (RFC 3463, RFC 5248 registry):
 * every "class.subject.detail" that tsamba sends is named here once,
 * with its meaning, so a reply says which condition it reports rather
 * than repeating digits.
 */

#ifndef TSAMBA_ESC_H
#define TSAMBA_ESC_H

#include <stddef.h>

/* The class: the first digit, the same as the reply code's. */
enum esc_class {
	ESC_SUCCESS = 2,
	ESC_TEMPFAIL = 4,
	ESC_PERMFAIL = 5,
};

/* subject * 100 + detail, so that X.1.10 and X.7.11 fit. */
#define ESC_SD(subject, detail)	((subject) * 100 + (detail))

enum esc_code {
	ESC_OTHER_STATUS =			ESC_SD(0, 0),

	ESC_OTHER_ADDRESS_STATUS =		ESC_SD(1, 0),
	ESC_BAD_DESTINATION_MAILBOX =		ESC_SD(1, 1),
	ESC_BAD_DESTINATION_SYSTEM =		ESC_SD(1, 2),
	ESC_BAD_DESTINATION_SYNTAX =		ESC_SD(1, 3),
	ESC_DESTINATION_VALID =			ESC_SD(1, 5),
	ESC_BAD_SENDER_SYNTAX =			ESC_SD(1, 7),
	ESC_DESTINATION_NULL_MX =		ESC_SD(1, 10),

	ESC_OTHER_MAILBOX_STATUS =		ESC_SD(2, 0),
	ESC_MAILBOX_FULL =			ESC_SD(2, 2),

	ESC_OTHER_MAIL_SYSTEM_STATUS =		ESC_SD(3, 0),
	ESC_MAIL_SYSTEM_FULL =			ESC_SD(3, 1),
	ESC_SYSTEM_NOT_ACCEPTING =		ESC_SD(3, 2),
	ESC_MESSAGE_TOO_BIG =			ESC_SD(3, 4),

	ESC_OTHER_NETWORK_STATUS =		ESC_SD(4, 0),
	ESC_NO_ANSWER_FROM_HOST =		ESC_SD(4, 1),
	ESC_BAD_CONNECTION =			ESC_SD(4, 2),
	ESC_ROUTING_SERVER_FAILURE =		ESC_SD(4, 3),
	ESC_UNABLE_TO_ROUTE =			ESC_SD(4, 4),
	ESC_DELIVERY_TIME_EXPIRED =		ESC_SD(4, 7),

	ESC_OTHER_PROTOCOL_STATUS =		ESC_SD(5, 0),
	ESC_INVALID_COMMAND =			ESC_SD(5, 1),
	ESC_SYNTAX_ERROR =			ESC_SD(5, 2),
	ESC_TOO_MANY_RECIPIENTS =		ESC_SD(5, 3),
	ESC_INVALID_COMMAND_ARGUMENTS =		ESC_SD(5, 4),
	ESC_WRONG_PROTOCOL_VERSION =		ESC_SD(5, 5),
	ESC_AUTH_LINE_TOO_LONG =		ESC_SD(5, 6),

	ESC_OTHER_MEDIA_STATUS =		ESC_SD(6, 0),
	ESC_CONVERSION_NOT_SUPPORTED =		ESC_SD(6, 3),
	ESC_NON_ASCII_NOT_PERMITTED =		ESC_SD(6, 7),

	ESC_OTHER_SECURITY_STATUS =		ESC_SD(7, 0),
	ESC_DELIVERY_NOT_AUTHORIZED =		ESC_SD(7, 1),
	ESC_SECURITY_NOT_SUPPORTED =		ESC_SD(7, 4),
	ESC_CRYPTOGRAPHIC_FAILURE =		ESC_SD(7, 5),
	ESC_AUTH_CREDENTIALS_INVALID =		ESC_SD(7, 8),
	ESC_ENCRYPTION_REQUIRED =		ESC_SD(7, 11),
	ESC_REVERSE_DNS_FAILED =		ESC_SD(7, 25),	/* RFC 7372 */
};

#define ESC_MAX		16	/* "5.7.11" and its NUL, with room */

/*
 * "class.subject.detail", e.g. "5.1.1", in a static buffer valid until
 * the next call.
 */
const char	*esc_code(enum esc_class, enum esc_code);
/* The same for the class of an SMTP reply code (550: 5). */
const char	*esc_for_reply(int reply, enum esc_code);
/* The RFC 3463 meaning, e.g. "Bad destination mailbox address". */
const char	*esc_description(enum esc_code);
/*
 * A whole reply line "550 5.1.1 text" into buf (no CRLF): the length it
 * needed, as snprintf(3).
 */
int		 esc_reply(char *buf, size_t bufsz, int reply, enum esc_code,
		    const char *fmt, ...)
		    __attribute__((__format__ (printf, 5, 6)));

#endif
