/*
 * The MariaDB connection file named by "table ... mysql" in tsamba.conf,
 * read by tsamba-authd (lookups) and tsambactl (administration).  Format:
 * one "key = value" per line, '#' comments, values may be quoted:
 *
 *   host = 127.0.0.1            or  socket = /run/mysqld/mysqld.sock
 *   port = 3306
 *   user = mailuser
 *   password = secret
 *   database = mailserver
 *   pool = 4                    connections kept by authd
 *   query_domain = SELECT name FROM domains WHERE name = ?
 *   ... one key per statement below; every query has one or two '?'
 *   placeholders and is run as a prepared statement.
 *
 * The defaults match the existing schema: domains(name),
 * users(mail, c_password, ...), aliases(source, destination).
 */

#ifndef TSAMBA_SQLCONF_H
#define TSAMBA_SQLCONF_H

#include <limits.h>

#define SQLCONF_QUERY_MAX	1024
#define SQLCONF_VALUE_MAX	256

enum sql_query {
	SQL_DOMAIN,		/* ? = domain -> 1 row (name) if hosted */
	SQL_USER,		/* ? = address -> (mail, c_password) */
	SQL_ALIAS,		/* ? = source -> destination rows */
	SQL_DOMAIN_LIST,	/* -> name rows */
	SQL_DOMAIN_ADD,		/* ? = name */
	SQL_DOMAIN_DEL,		/* ? = name */
	SQL_USER_LIST,		/* -> (mail) rows, all domains */
	SQL_USER_ADD,		/* ? = mail, ? = hash */
	SQL_USER_PASSWD,	/* ? = hash, ? = mail */
	SQL_USER_DEL,		/* ? = mail */
	SQL_ALIAS_LIST,		/* -> (source, destination) rows */
	SQL_ALIAS_ADD,		/* ? = source, ? = destination */
	SQL_ALIAS_DEL,		/* ? = source, ? = destination */
	SQL_NQUERIES
};

struct sqlconf {
	char		host[SQLCONF_VALUE_MAX];
	char		socket[PATH_MAX];
	unsigned int	port;
	char		user[SQLCONF_VALUE_MAX];
	char		password[SQLCONF_VALUE_MAX];
	char		database[SQLCONF_VALUE_MAX];
	unsigned int	pool;
	char		query[SQL_NQUERIES][SQLCONF_QUERY_MAX];
};

/* Defaults, then the file; -1 after printing "file:line: message". */
int		 sqlconf_parse(const char *path, struct sqlconf *);
/* Key name of a query ("query_domain"...), for messages. */
const char	*sqlconf_query_name(enum sql_query);

#endif
