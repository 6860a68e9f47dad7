#!/usr/bin/python3
"""`make install` without root: the CMake install rules staged under a
DESTDIR (cmake/install.cmake, cmake/install_files.cmake).

Checks the file list and modes for the prefixes that matter, that the config,
the unit, the logrotate file and the man page name each other's real paths,
that `--check-config` accepts the shipped config and points at the right line
of a broken one, that the man page documents every directive the server
knows, and that the installed server makes no system call outside the unit's
SystemCallFilter=@system-service (traced with strace).

The Debian package itself is tested by test_package.py (`make test-package`),
which needs root.
"""

import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
import unittest

import harness
from harness import RawConnection, decode

SOURCE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIPPED_CONF = os.path.join(SOURCE_DIR, "conf", "causalkv.conf")

# What the service needs changed in conf/causalkv.conf, and nothing else.
SERVICE_DIRECTIVES = {
    "dir": "/var/lib/causalkv",
    "logfile": "/var/log/causalkv/causalkv.log",
    "supervised": "systemd",
    "daemonize": "no",
}


def build_dir():
    path = os.environ.get("CAUSALKV_BUILD_DIR", "")
    if not path:
        path = os.path.dirname(harness.server_binary())
    if not os.path.isfile(os.path.join(path, "cmake_install.cmake")):
        raise RuntimeError("%r is not a CMake build directory" % path)
    return path


def install(prefix, destdir):
    """cmake --install into destdir; returns {relative path: mode} of what it made."""
    env = dict(os.environ, DESTDIR=destdir)
    r = subprocess.run(["cmake", "--install", build_dir(), "--prefix", prefix],
                       env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    if r.returncode != 0:
        raise AssertionError("cmake --install failed:\n" + r.stdout.decode(errors="replace"))
    found = {}
    for root, dirs, files in os.walk(destdir):
        for name in dirs + files:
            full = os.path.join(root, name)
            found["/" + os.path.relpath(full, destdir)] = stat.S_IMODE(os.lstat(full).st_mode)
    return found


def directives(text):
    """{name: value} of the uncommented directives of a config text."""
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition(" ")
            out[name] = value
    return out


def unit_settings(text):
    out = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            out[key] = value
    return out


def expand_syscall_group(group):
    """Every system call name of a systemd group such as @system-service."""
    r = subprocess.run(["systemd-analyze", "syscall-filter"], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, check=True, timeout=30, text=True)
    groups, current = {}, None
    for line in r.stdout.splitlines():
        if line.startswith("@"):
            current = groups.setdefault(line.strip(), set())
        elif current is not None and line.strip() and not line.strip().startswith("#"):
            current.add(line.strip())
    names, todo, seen = set(), [group], set()
    while todo:
        g = todo.pop()
        if g in seen:
            continue
        seen.add(g)
        for member in groups.get(g, ()):
            if member.startswith("@"):
                todo.append(member)
            else:
                names.add(member)
    return names


class InstallTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="causalkv-install-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def read(self, destdir, path):
        with open(destdir + path) as f:
            return f.read()

    def test_prefix_usr_file_list_modes_and_paths(self):
        dest = os.path.join(self.tmp, "root")
        files = install("/usr", dest)
        expected = {
            "/usr/bin/causalkv-server": 0o755,
            "/etc/causalkv/causalkv.conf": 0o644,
            "/etc/logrotate.d/causalkv-server": 0o644,
            "/lib/systemd/system/causalkv-server.service": 0o644,
            "/usr/share/man/man1/causalkv-server.1": 0o644,
        }
        got_files = {p: m for p, m in files.items() if not os.path.isdir(dest + p)}
        self.assertEqual(got_files, expected)
        for path, mode in files.items():
            if os.path.isdir(dest + path):
                self.assertEqual(mode, 0o755, path)

        unit = unit_settings(self.read(dest, "/lib/systemd/system/causalkv-server.service"))
        self.assertEqual(unit["ExecStart"],
                         "/usr/bin/causalkv-server /etc/causalkv/causalkv.conf --supervised systemd")
        self.assertEqual(unit["ExecStartPre"],
                         "/usr/bin/causalkv-server --check-config /etc/causalkv/causalkv.conf")
        self.assertEqual(unit["ReadWritePaths"], "-/var/lib/causalkv -/var/log/causalkv")
        for key, value in (("Type", "notify"), ("User", "causalkv"), ("NoNewPrivileges", "yes"),
                           ("ProtectSystem", "strict"), ("PrivateTmp", "yes"),
                           ("Restart", "on-failure")):
            self.assertEqual(unit.get(key), value, key)
        conf = directives(self.read(dest, "/etc/causalkv/causalkv.conf"))
        self.assertEqual(int(unit["LimitNOFILE"]), int(conf["maxclients"]) + 32)
        self.assertNotRegex(self.read(dest, "/lib/systemd/system/causalkv-server.service"),
                            "@[A-Z_]+@")

        rotate = self.read(dest, "/etc/logrotate.d/causalkv-server")
        self.assertIn("/var/log/causalkv/*.log {", rotate)
        rules = [l.strip() for l in rotate.splitlines() if not l.lstrip().startswith("#")]
        self.assertNotIn("copytruncate", rules)
        self.assertIn("create 0640 causalkv adm", rules)
        man = self.read(dest, "/usr/share/man/man1/causalkv-server.1")
        self.assertNotRegex(man, "@[A-Z_]+@")
        for path in ("/etc/causalkv/causalkv.conf", "/var/lib/causalkv",
                     "/var/log/causalkv/causalkv.log", "/etc/logrotate.d/causalkv-server",
                     "/lib/systemd/system/causalkv-server.service"):
            self.assertIn(path.replace("-", "\\-"), man)

    def test_default_prefix_usr_local(self):
        dest = os.path.join(self.tmp, "root")
        files = install("/usr/local", dest)
        for path in ("/usr/local/bin/causalkv-server", "/usr/local/etc/causalkv/causalkv.conf",
                     "/usr/local/etc/logrotate.d/causalkv-server",
                     "/usr/local/lib/systemd/system/causalkv-server.service",
                     "/usr/local/share/man/man1/causalkv-server.1"):
            self.assertIn(path, files)
        unit = unit_settings(self.read(dest, "/usr/local/lib/systemd/system/causalkv-server.service"))
        self.assertEqual(unit["ExecStart"], "/usr/local/bin/causalkv-server "
                         "/usr/local/etc/causalkv/causalkv.conf --supervised systemd")
        self.assertFalse(any(p.startswith(("/etc", "/lib", "/usr/bin")) for p in files), files)

    def test_installed_config_is_the_shipped_one_with_service_paths(self):
        dest = os.path.join(self.tmp, "root")
        install("/usr", dest)
        installed = self.read(dest, "/etc/causalkv/causalkv.conf")
        with open(SHIPPED_CONF) as f:
            shipped = f.read()
        want, got = directives(shipped), directives(installed)
        want.update(SERVICE_DIRECTIVES)
        self.assertEqual(got, want)
        # Only the service's lines and a header comment differ.
        self.assertEqual(len(installed.splitlines()) - len(shipped.splitlines()), 3)

    def test_check_config_accepts_the_installed_config_and_names_a_bad_line(self):
        dest = os.path.join(self.tmp, "root")
        install("/usr", dest)
        server = dest + "/usr/bin/causalkv-server"
        conf = dest + "/etc/causalkv/causalkv.conf"
        r = subprocess.run([server, "--check-config", conf], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=30, text=True)
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertIn("is OK", r.stdout)

        with open(conf) as f:
            lines = f.read().splitlines()
        cases = [
            ("maxclients", "maxclients many", "argument couldn't be parsed into an integer"),
            ("appendfsync", "appendfsync sometimes", "argument(s) must be one of"),
            ("port", "prot 6379", "Bad directive or wrong number of arguments"),
        ]
        for name, bad, reason in cases:
            with self.subTest(bad=bad):
                index = next(i for i, l in enumerate(lines) if l.startswith(name + " "))
                broken = list(lines)
                broken[index] = bad
                path = os.path.join(self.tmp, "broken.conf")
                with open(path, "w") as f:
                    f.write("\n".join(broken) + "\n")
                r = subprocess.run([server, "--check-config", path], stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, timeout=30, text=True)
                self.assertEqual(r.returncode, 1, r.stdout)
                self.assertIn("Reading the configuration file '%s', at line %d" % (path, index + 1),
                              r.stdout)
                self.assertIn(">>> '%s'" % bad, r.stdout)
                self.assertIn(reason, r.stdout)

    def test_man_page_is_clean_and_documents_every_directive(self):
        dest = os.path.join(self.tmp, "root")
        install("/usr", dest)
        page = dest + "/usr/share/man/man1/causalkv-server.1"
        r = subprocess.run(["groff", "-man", "-ww", "-z", "-Tutf8", page],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30, text=True)
        self.assertEqual((r.returncode, r.stdout), (0, ""))
        with open(page) as f:
            man = f.read()
        for section in ("OPTIONS", "CONFIGURATION DIRECTIVES", "VERSIONED COMMANDS", "SIGNALS"):
            self.assertIn(".SH " + section, man)
        for word in ("SIGTERM", "SIGHUP", "VGET", "VPUT", "VDEL", "\\-\\-check\\-config"):
            self.assertIn(word, man)
        section = man.split(".SH CONFIGURATION DIRECTIVES", 1)[1].split("\n.SH ", 1)[0]
        documented = set(re.findall(r'^\.B[IR]? "?([a-z][a-z\\-]*)', section, re.M))
        documented = {d.replace("\\-", "-") for d in documented}
        srv = harness.start_server()
        self.addCleanup(srv.stop)
        with RawConnection(srv.port) as c:
            reply = decode(c.call("CONFIG", "GET", "*"))
        known = {name.decode() for name in reply[0::2]}
        self.assertTrue(known)
        self.assertEqual(known - documented, set(), "directives missing from the man page")

    @unittest.skipIf(os.environ.get("CAUSALKV_SANITIZED"),
                     "the sanitizer runtime's own system calls are not the server's")
    def test_the_server_stays_inside_the_units_system_call_filter(self):
        if not shutil.which("strace"):
            self.fail("strace is missing (make deps installs it)")
        dest = os.path.join(self.tmp, "root")
        install("/usr", dest)
        allowed = expand_syscall_group("@system-service")
        self.assertIn("read", allowed)

        notify_path = os.path.join(self.tmp, "notify.sock")
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(notify.close)
        notify.bind(notify_path)
        notify.settimeout(harness.READY_TIMEOUT)
        data = os.path.join(self.tmp, "data")
        os.mkdir(data)
        log = os.path.join(self.tmp, "causalkv.log")
        trace = os.path.join(self.tmp, "trace")
        port = harness.find_free_port()
        # The installed config as the unit runs it, with this test's paths.
        argv = ["strace", "-f", "-qq", "-o", trace, dest + "/usr/bin/causalkv-server",
                dest + "/etc/causalkv/causalkv.conf", "--supervised", "systemd",
                "--port", str(port), "--bind", "127.0.0.1", "--dir", data, "--logfile", log,
                "--appendonly", "yes"]
        proc = subprocess.Popen(argv, env=dict(os.environ, NOTIFY_SOCKET=notify_path),
                                stdin=subprocess.DEVNULL, preexec_fn=harness._child_preexec)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        self.assertIn("READY=1", notify.recv(4096).decode())
        with RawConnection(port) as c:
            # Signals go to the server, not to strace, its parent.
            info = decode(c.call("INFO", "server")).decode()
            pid = int(re.search(r"process_id:(\d+)", info).group(1))
            self.addCleanup(lambda: proc.poll() is None and os.kill(pid, signal.SIGKILL))
            self.assertEqual(decode(c.call("VPUT", "cart", "0", "milk"))[1], [b"milk"])
            c.call("BGSAVE")
            c.call("BGREWRITEAOF")
            os.rename(log, log + ".1")
            os.kill(pid, signal.SIGHUP)
            deadline = time.monotonic() + harness.READY_TIMEOUT
            while not os.path.exists(log) and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertTrue(os.path.exists(log), "no new log after SIGHUP")
            c.call("CONFIG", "SET", "maxclients", "100")
            c.call("INFO")
        os.kill(pid, signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=30), 0)

        used = set()
        with open(trace) as f:
            for line in f:
                m = re.match(r"\d+\s+([a-z_0-9]+)\(", line)
                if m:
                    used.add(m.group(1))
        # The trace really followed the server: its notification and its
        # snapshot child.
        self.assertIn("sendto", used)
        self.assertTrue(used & {"clone", "clone3", "fork", "vfork"}, used)
        # execve of the server itself happens before the unit's filter applies.
        self.assertEqual(used - allowed - {"execve"}, set())


if __name__ == "__main__":
    harness.main()
