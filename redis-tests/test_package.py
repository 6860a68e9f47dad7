#!/usr/bin/python3
"""The Debian package of `make deb`, checked and then installed on this
machine (`make test-package`; root, as CI is on its disposable machine).

Without changing the machine: lintian reports no error and no warning the
README does not explain; `dpkg-deb -I` shows runtime dependencies only and the
conffiles; `dpkg-deb -c` shows exactly the expected files, modes and owners.

Then the life of the package: `dpkg -i` where no systemd runs (it must not
fail, and must still enable the unit); the causalkv user and its directories;
the installed binary started with the installed config as the causalkv user
(setpriv), ready on $NOTIFY_SOCKET, a VPUT/VGET round trip with redis-cli, the
log rotated by the installed logrotate file and reopened on SIGHUP;
`dpkg --remove` keeps the data; `dpkg --purge` leaves nothing behind.

It refuses to run where causalkv is already installed or its user exists, so
that its cleanup (purge, user, directories), which runs even when a check
fails or the test is interrupted, can only remove what it made itself.
"""

import glob
import grp
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import unittest

SOURCE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = "causalkv-server"
USER = "causalkv"
CONF = "/etc/causalkv/causalkv.conf"
DATA = "/var/lib/causalkv"
LOGS = "/var/log/causalkv"
UNIT = "/lib/systemd/system/causalkv-server.service"
REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"
TIMEOUT = 60

# Where a causalkv file or directory could be left behind.
SCANNED = ["/etc", "/var/lib", "/var/log", "/var/cache", "/lib/systemd", "/usr/lib/systemd",
           "/usr/bin", "/usr/sbin", "/usr/share/man", "/usr/share/doc", "/run"]
# dpkg and apt keep their own records of what was installed and purged.
IGNORED = ("/var/lib/dpkg/", "/var/log/dpkg.log", "/var/log/apt/", "/var/cache/apt/",
           "/var/cache/man/", "/var/cache/debconf/")


def run(*argv, check=True, **kw):
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=kw.pop("timeout", TIMEOUT), **kw)
    if check and r.returncode != 0:
        raise AssertionError("%s exited %d:\n%s" % (" ".join(argv), r.returncode, r.stdout))
    return r


def deb_path():
    debs = glob.glob(os.path.join(os.environ.get("DEB_DIR", os.path.join(SOURCE_DIR, "build-deb")),
                                  PACKAGE + "_*.deb"))
    if len(debs) != 1:
        raise RuntimeError("expected one %s_*.deb in DEB_DIR (make deb), found %r" % (PACKAGE, debs))
    return debs[0]


def package_status():
    r = run("dpkg-query", "-W", "-f=${db:Status-Abbrev}", PACKAGE, check=False)
    return r.stdout.strip() if r.returncode == 0 else ""


def user_exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def group_exists(name):
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def leftovers():
    """Every path under SCANNED whose name mentions causalkv."""
    found = set()
    for top in SCANNED:
        for root, dirs, files in os.walk(top):
            for name in dirs + files:
                path = os.path.join(root, name)
                if "causalkv" in name and not path.startswith(IGNORED):
                    found.add(path)
    return found


def mode_owner(path):
    st = os.lstat(path)
    return (stat.S_IMODE(st.st_mode), pwd.getpwuid(st.st_uid).pw_name,
            grp.getgrgid(st.st_gid).gr_name)


def cleanup():
    """Undoes whatever the test may have installed; never raises."""
    steps = [["dpkg", "--purge", PACKAGE]]
    if user_exists(USER):
        steps.append(["userdel", USER])
    for argv in steps:
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=TIMEOUT)
    if group_exists(USER):
        subprocess.run(["groupdel", USER], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=TIMEOUT)
    for path in (DATA, LOGS, "/etc/causalkv"):
        if os.path.exists(path):
            subprocess.run(["dpkg-statoverride", "--remove", path], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=TIMEOUT)
            shutil.rmtree(path, ignore_errors=True)


def _on_signal(signum, _frame):
    # A CI timeout or ^C: unwind through the cleanups, then die of the signal.
    raise SystemExit(128 + signum)


class PackageFile(unittest.TestCase):
    """The .deb as built, without installing it."""

    def test_lintian_has_no_error_and_every_warning_is_explained(self):
        deb = deb_path()
        changes = glob.glob(os.path.join(os.path.dirname(deb), "*.changes"))
        r = run("lintian", "--fail-on", "error", "--display-info", "--pedantic",
                *(changes or [deb]), check=False, timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout)
        tags = re.findall(r"^([EWIP]): \S+: (\S+)", r.stdout, re.M)
        print("\nlintian:\n" + (r.stdout or "(nothing)\n"), file=sys.stderr)
        self.assertEqual([t for level, t in tags if level == "E"], [])
        with open(os.path.join(SOURCE_DIR, "README.md")) as f:
            readme = f.read()
        for level, tag in tags:
            if level in ("W", "I"):
                self.assertTrue("`%s`" % tag in readme,
                                "lintian %s: %s is not explained in the README" % (level, tag))

    def test_control_runtime_dependencies_and_conffiles(self):
        deb = deb_path()
        info = run("dpkg-deb", "-I", deb).stdout
        depends = re.search(r"^ Depends: (.*)$", info, re.M).group(1)
        names = [d.strip().split()[0] for d in depends.split(",")]
        for want in ("libuv1", "libhiredis0.14", "adduser"):
            self.assertIn(want, names)
        self.assertTrue(any(n.startswith("libspdlog") for n in names), names)
        self.assertEqual([n for n in names if n.endswith("-dev")], [])
        self.assertNotIn("systemd", names)  # it must install where no systemd runs
        with tempfile.TemporaryDirectory() as d:
            run("dpkg-deb", "-e", deb, d)
            with open(os.path.join(d, "conffiles")) as f:
                self.assertEqual(sorted(f.read().split()),
                                 ["/etc/causalkv/causalkv.conf", "/etc/logrotate.d/causalkv-server"])
            for script in ("postinst", "postrm", "prerm"):
                self.assertTrue(os.access(os.path.join(d, script), os.X_OK), script)

    def test_contents(self):
        listing = run("dpkg-deb", "-c", deb_path()).stdout
        files = {}
        for line in listing.splitlines():
            perms, owner, _size, _date, _time, path = line.split(None, 5)
            files[path.lstrip(".")] = (perms, owner)
        self.assertTrue(all(owner == "root/root" for _, owner in files.values()), files)
        regular = {p: perms for p, (perms, _) in files.items() if not perms.startswith("d")}
        self.assertEqual(regular, {
            "/usr/bin/causalkv-server": "-rwxr-xr-x",
            "/etc/causalkv/causalkv.conf": "-rw-r--r--",
            "/etc/logrotate.d/causalkv-server": "-rw-r--r--",
            UNIT: "-rw-r--r--",
            "/usr/share/man/man1/causalkv-server.1.gz": "-rw-r--r--",
            "/usr/share/doc/causalkv-server/copyright": "-rw-r--r--",
            "/usr/share/doc/causalkv-server/changelog.gz": "-rw-r--r--",
        })

    def test_changelog_version_is_the_projects(self):
        with open(os.path.join(SOURCE_DIR, "CMakeLists.txt")) as f:
            project = re.search(r"project\(causalkv VERSION ([0-9.]+)", f.read()).group(1)
        version = run("dpkg-deb", "-f", deb_path(), "Version").stdout.strip()
        self.assertEqual(version.split("-")[0], project)


class PackageLife(unittest.TestCase):
    """Install, run, remove, purge: one test, since each step needs the last."""

    def setUp(self):
        if os.geteuid() != 0:
            self.fail("needs root: it installs the package (make test-package uses sudo)")
        if package_status() not in ("", "un"):
            self.fail("%s is already installed here (%s); this test would purge it"
                      % (PACKAGE, package_status()))
        for path in (DATA, LOGS, "/etc/causalkv"):
            if os.path.exists(path):
                self.fail("%s exists; this test would delete it" % path)
        if user_exists(USER) or group_exists(USER):
            self.fail("a %s user or group exists; this test would delete it" % USER)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, _on_signal)
        self.before = leftovers()
        self.addCleanup(cleanup)
        self.tmp = tempfile.mkdtemp(prefix="causalkv-package-")
        os.chmod(self.tmp, 0o755)  # the causalkv user reaches the notify socket
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def start_server(self, port):
        """The installed binary with the installed config, as the causalkv user,
        ready when it says so on $NOTIFY_SOCKET (as under Type=notify)."""
        notify_path = os.path.join(self.tmp, "notify.sock")
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(notify.close)
        notify.bind(notify_path)
        os.chmod(notify_path, 0o666)
        notify.settimeout(30)
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "NOTIFY_SOCKET": notify_path}
        # What the server prints before its log file is open.
        self.output = os.path.join(self.tmp, "output")
        with open(self.output, "wb") as out:
            proc = subprocess.Popen(
                ["setpriv", "--reuid", USER, "--regid", USER, "--init-groups", "--",
                 "/usr/bin/causalkv-server", CONF, "--port", str(port)],
                env=env, cwd="/", stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        self.addCleanup(lambda: proc.poll() is None and (proc.kill(), proc.wait()))
        try:
            message = notify.recv(4096).decode()
        except socket.timeout:
            proc.kill()
            proc.wait()
            with open(self.output) as f:
                self.fail("no readiness on NOTIFY_SOCKET: %s" % f.read())
        self.assertIn("READY=1", message)
        return proc

    def cli(self, port, *args):
        return run(REDIS_CLI, "-p", str(port), *args).stdout

    def test_install_run_remove_purge(self):
        deb = deb_path()
        r = run("dpkg", "-i", deb, timeout=300)
        self.assertEqual(package_status(), "ii", r.stdout)

        # The user and its directories.
        user = pwd.getpwnam(USER)
        self.assertLess(user.pw_uid, 1000)
        self.assertEqual(user.pw_dir, DATA)
        self.assertEqual(user.pw_shell, "/usr/sbin/nologin")
        self.assertEqual(grp.getgrgid(user.pw_gid).gr_name, USER)
        self.assertEqual(mode_owner(DATA), (0o750, USER, USER))
        self.assertEqual(mode_owner(LOGS), (0o2750, USER, "adm"))
        self.assertEqual(mode_owner(CONF), (0o640, "root", USER))
        self.assertEqual(mode_owner("/usr/bin/causalkv-server"), (0o755, "root", "root"))
        self.assertEqual(mode_owner(UNIT), (0o644, "root", "root"))

        # Enabled, even though no systemd runs here to start it.
        wants = "/etc/systemd/system/multi-user.target.wants/causalkv-server.service"
        self.assertEqual(os.readlink(wants), UNIT)
        r = run("systemd-analyze", "verify", UNIT, check=False)
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertNotRegex(r.stdout, "Unknown|ignoring|[Ww]arn")

        # The unit's ExecStartPre, as the unit's user.
        r = run("setpriv", "--reuid", USER, "--regid", USER, "--init-groups", "--",
                "/usr/bin/causalkv-server", "--check-config", CONF)
        self.assertIn("is OK", r.stdout)

        port = free_port()
        proc = self.start_server(port)
        self.assertEqual(self.cli(port, "VPUT", "cart", "0", "milk"), "1\nmilk\n")
        self.assertEqual(self.cli(port, "VPUT", "cart", "0", "eggs"), "2\nmilk\neggs\n")
        self.assertEqual(self.cli(port, "VGET", "cart"), "2\nmilk\neggs\n")
        info = self.cli(port, "INFO", "server")
        self.assertIn("process_supervised:systemd", info)
        server_pid = int(re.search(r"process_id:(\d+)", info).group(1))
        with open("/proc/%d/status" % server_pid) as f:
            uid_line = re.search(r"^Uid:\s+(\d+)", f.read(), re.M).group(1)
        self.assertEqual(int(uid_line), user.pw_uid)

        # Log rotation with the installed file: renamed, recreated, and
        # written again after SIGHUP (which systemctl sends under systemd).
        log = os.path.join(LOGS, "causalkv.log")
        self.assertGreater(os.path.getsize(log), 0)
        state = os.path.join(self.tmp, "logrotate.state")
        run("logrotate", "--force", "--state", state, "/etc/logrotate.d/causalkv-server")
        self.assertTrue(os.path.exists(log + ".1"))
        self.assertEqual(mode_owner(log), (0o640, USER, "adm"))
        os.kill(server_pid, signal.SIGHUP)
        deadline = time.monotonic() + 15
        while os.path.getsize(log) == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        with open(log) as f:
            self.assertIn("reopened", f.read())

        # A clean stop keeps the data, owned by the user.
        os.kill(server_pid, signal.SIGTERM)
        proc.wait(timeout=30)
        with open(self.output) as f:
            self.assertEqual(proc.returncode, 0, f.read())
        for name in ("dump.ckv", "causalkv.hwm"):
            self.assertEqual(mode_owner(os.path.join(DATA, name))[1], USER, name)

        # remove keeps the data, the config and the user; purge drops them all.
        run("dpkg", "--remove", PACKAGE, timeout=300)
        self.assertEqual(package_status(), "rc")
        self.assertTrue(os.path.exists(os.path.join(DATA, "dump.ckv")))
        self.assertTrue(os.path.exists(CONF))
        self.assertTrue(user_exists(USER))
        run("dpkg", "--purge", PACKAGE, timeout=300)
        self.assertEqual(package_status(), "")
        self.assertFalse(user_exists(USER))
        self.assertFalse(group_exists(USER))
        self.assertEqual(run("dpkg-statoverride", "--list").stdout.count("causalkv"), 0)
        self.assertEqual(leftovers() - self.before, set())


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    unittest.main(verbosity=2)
