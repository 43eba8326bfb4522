"""A private MariaDB server for the integration tests.

MariaDB(tmpdir).start() runs mariadb-install-db into tmpdir/db and
mariadbd on tmpdir/mysql.sock and 127.0.0.1:<free port>, waits until it
answers, creates the database "mailserver" with the schema tsamba reads
(domains, users, aliases, with the extra columns real installations
have) and a user "mailuser" for authd.  stop() ends exactly the server
it started (by pid); start() again restarts it on the same data, which
is how a test takes the database away in the middle.

Needs the Debian packages mariadb-server and mariadb-client."""

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time

INSTALL_DB = shutil.which("mariadb-install-db") or "/usr/bin/mariadb-install-db"
MARIADBD = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
CLIENT = shutil.which("mariadb") or "/usr/bin/mariadb"
ADMIN = shutil.which("mariadb-admin") or "/usr/bin/mariadb-admin"

DATABASE = "mailserver"
DB_USER = "mailuser"
DB_PASSWORD = "mail'pass%word"

SCHEMA = """
CREATE DATABASE IF NOT EXISTS mailserver;
USE mailserver;
CREATE TABLE IF NOT EXISTS domains (
    id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name VARCHAR(255) NOT NULL UNIQUE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE IF NOT EXISTS users (
    id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    domain_id INT UNSIGNED NULL,
    mail VARCHAR(255) NOT NULL UNIQUE,
    c_password VARCHAR(255) NOT NULL,
    quota INT UNSIGNED NOT NULL DEFAULT 0,
    active TINYINT(1) NOT NULL DEFAULT 1
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE IF NOT EXISTS aliases (
    id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    domain_id INT UNSIGNED NULL,
    source VARCHAR(255) NOT NULL,
    destination VARCHAR(255) NOT NULL,
    active TINYINT(1) NOT NULL DEFAULT 1
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
"""


def available():
    return all(os.access(p, os.X_OK) for p in (INSTALL_DB, MARIADBD,
                                               CLIENT, ADMIN))


@contextlib.contextmanager
def running(prefix):
    """A started server with the schema loaded, in a private directory
    under /tmp named by prefix; stopped and removed on leaving."""
    tmp = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    srv = MariaDB(tmp)
    try:
        srv.start()
        srv.load_schema()
        yield srv
    finally:
        srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def sql_quote(s):
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


class MariaDB:
    def __init__(self, tmp, start_timeout=60.0):
        self.tmp = tmp
        self.datadir = os.path.join(tmp, "db")
        self.socket = os.path.join(tmp, "mysql.sock")
        self.pidfile = os.path.join(tmp, "mariadb.pid")
        self.log = os.path.join(tmp, "mariadb.log")
        self.port = free_port()
        self.timeout = start_timeout
        self.proc = None
        self.installed = False
        # As root the server runs as mysql when that user exists.
        self.user = None
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("mysql")
                self.user = "mysql"
            except KeyError:
                self.user = "root"

    def _chown(self, path):
        if self.user == "mysql":
            pw = pwd.getpwnam("mysql")
            os.chown(path, pw.pw_uid, pw.pw_gid)

    def install(self):
        os.makedirs(self.datadir, exist_ok=True)
        self._chown(self.tmp)
        self._chown(self.datadir)
        os.chmod(self.tmp, 0o755)
        cmd = [INSTALL_DB, "--no-defaults", "--datadir=" + self.datadir,
               "--auth-root-authentication-method=normal",
               "--skip-test-db"]
        if self.user is not None:
            cmd.append("--user=" + self.user)
        with open(self.log, "ab") as logf:
            subprocess.run(cmd, check=True, stdout=logf, stderr=logf,
                           stdin=subprocess.DEVNULL)
        self.installed = True

    def start(self):
        if not self.installed:
            self.install()
        cmd = [MARIADBD, "--no-defaults", "--datadir=" + self.datadir,
               "--socket=" + self.socket, "--skip-networking=0",
               "--port=%d" % self.port, "--bind-address=127.0.0.1",
               "--pid-file=" + self.pidfile, "--log-error=" + self.log,
               "--innodb-buffer-pool-size=16M",
               "--innodb-log-file-size=8M"]
        if self.user is not None:
            cmd.append("--user=" + self.user)
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + self.timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("mariadbd exited (%s):\n%s" %
                                   (self.proc.returncode,
                                    self.log_text()[-3000:]))
            r = subprocess.run([ADMIN, "--no-defaults", "-uroot",
                                "--socket=" + self.socket,
                                "--connect-timeout=2", "ping"],
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
            if r.returncode == 0:
                break
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("mariadbd not answering after %ss:\n%s"
                                   % (self.timeout, self.log_text()[-3000:]))
            time.sleep(0.2)

    def stop(self):
        """Stop the server this object started (by its pid)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self):
        self.stop()
        self.start()

    def sql(self, text, database=None):
        """Run SQL as root over the socket; returns stdout (tab separated)."""
        cmd = [CLIENT, "--no-defaults", "-uroot", "--socket=" + self.socket,
               "--batch", "--skip-column-names"]
        if database:
            cmd.append(database)
        r = subprocess.run(cmd, input=text.encode(), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        if r.returncode != 0:
            raise RuntimeError("SQL failed: %s\n%s" %
                               (r.stderr.decode(errors="replace"), text))
        return r.stdout.decode()

    def load_schema(self):
        self.sql(SCHEMA)
        pw = sql_quote(DB_PASSWORD)
        self.sql("CREATE USER IF NOT EXISTS 'mailuser'@'localhost' "
                 "IDENTIFIED BY %s;\n"
                 "CREATE USER IF NOT EXISTS 'mailuser'@'127.0.0.1' "
                 "IDENTIFIED BY %s;\n"
                 "GRANT SELECT, INSERT, UPDATE, DELETE ON mailserver.* TO "
                 "'mailuser'@'localhost';\n"
                 "GRANT SELECT, INSERT, UPDATE, DELETE ON mailserver.* TO "
                 "'mailuser'@'127.0.0.1';\n" % (pw, pw))

    def add_domain(self, name):
        self.sql("INSERT INTO domains (name) VALUES (%s);" % sql_quote(name),
                 DATABASE)

    def add_user(self, mail, hash_):
        self.sql("INSERT INTO users (domain_id, mail, c_password) SELECT "
                 "id, %s, %s FROM domains WHERE name = %s;" %
                 (sql_quote(mail), sql_quote(hash_),
                  sql_quote(mail.rsplit("@", 1)[1])), DATABASE)

    def add_alias(self, source, destination):
        self.sql("INSERT INTO aliases (source, destination) VALUES "
                 "(%s, %s);" % (sql_quote(source), sql_quote(destination)),
                 DATABASE)

    def conf_text(self, tcp=True, extra=""):
        """A tsamba mysql connection file for this server."""
        where = ("host = 127.0.0.1\nport = %d\n" % self.port) if tcp \
            else ("socket = %s\n" % self.socket)
        pw = DB_PASSWORD.replace("\\", "\\\\").replace('"', '\\"')
        return ("%suser = %s\npassword = \"%s\"\ndatabase = %s\npool = 4\n%s"
                % (where, DB_USER, pw, DATABASE, extra))

    def log_text(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""


def serving(prefix):
    """A generator for a pytest fixture: running(prefix), the test
    skipped when the packages are absent."""
    import pytest
    if not available():
        pytest.skip("mariadb-server is not installed")
    with running(prefix) as srv:
        yield srv
