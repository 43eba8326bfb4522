"""pytest set-up for the end-to-end tests: each test module gets fresh
tsamba sandboxes (regress/sandbox.py) in private directories under /tmp,
stopped by pid in the finalizer.  A failing test gets the tail of every
daemon log in its report."""

import os
import shutil
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))	# regress/: sandbox.py
sys.path.insert(0, HERE)			# helpers.py

from sandbox import Sandbox, is_root  # noqa: E402

# Keep the sandbox directories (logs, spool, Maildirs) after the run.
KEEP = os.environ.get("TSAMBA_KEEP") == "1"

_live = []	# sandboxes of the running module, for failure reports


def new_sandbox(request, name="sb", **kw):
    """A started Sandbox, stopped (and its dir removed) when the requesting
    fixture's scope ends."""
    d = tempfile.mkdtemp(prefix="tsamba-%s-%s-" % (
        request.module.__name__.rsplit(".", 1)[-1], name), dir="/tmp")
    sb = Sandbox(d, **kw)
    _live.append(sb)

    def finish():
        try:
            orphans = sb.stop()
            if orphans:
                sys.stderr.write("%s: orphaned children %s\n" %
                                 (d, orphans))
        finally:
            _live.remove(sb)
            if not KEEP and not getattr(sb, "failed", False):
                shutil.rmtree(d, ignore_errors=True)
            else:
                sys.stderr.write("kept %s\n" % d)

    request.addfinalizer(finish)
    sb.start()
    return sb


@pytest.fixture(scope="module")
def sandbox_factory(request):
    """new(name, **Sandbox kwargs) -> started Sandbox for this module."""
    def new(name="sb", **kw):
        return new_sandbox(request, name, **kw)
    return new


@pytest.fixture(scope="module")
def sb(sandbox_factory):
    """The default sandbox of a module: generous limits."""
    return sandbox_factory("sb", limits={"sessions-per-ip": 300})


def pytest_configure(config):
    config.addinivalue_line("markers", "root: needs root (skipped "
                            "otherwise)")


def pytest_collection_modifyitems(config, items):
    if is_root():
        return
    skip = pytest.mark.skip(reason="needs root (privilege drops, "
                            "private Postfix)")
    for item in items:
        if "root" in item.keywords:
            item.add_marker(skip)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        for sb in list(_live):
            sb.failed = True
            rep.sections.append(("tsamba logs of %s" % sb.dir,
                                 sb.logs_tail(25)))
