"""cli_interactive.py -- redis-cli's interactive mode in a pseudo-terminal.

    /usr/bin/python3 cli_interactive.py HOST PORT

Types into redis-cli as a person would and reads its screen output: the argument hints it
shows while a command is typed come from the server's COMMAND DOCS, so they prove that
reply usable. Prints "PASS name" / "FAIL name: why" lines and exits 0 when all pass.
redis-cli asks the terminal for the cursor position (ESC [6n); the answer is given.
"""
import fcntl
import os
import pty
import re
import select
import struct
import sys
import termios
import time

HOST, PORT = sys.argv[1], sys.argv[2]
failures = 0

pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 400, 0, 0))
    os.environ["TERM"] = "xterm"
    os.environ["REDISCLI_HISTFILE"] = "/dev/null"
    os.execvp("redis-cli", ["redis-cli", "-h", HOST, "-p", PORT])


def read_until(pattern, timeout=10.0):
    """Reads until pattern (bytes regex) matches the output so far, or timeout. Returns it."""
    out = b""
    end = time.time() + timeout
    while time.time() < end:
        if re.search(pattern, out, re.S):
            break
        ready, _, _ = select.select([fd], [], [], 0.05)
        if not ready:
            continue
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if b"\x1b[6n" in data:
            os.write(fd, b"\x1b[1;1R")
        out += data
    return out


def check(name, ok, why):
    global failures
    if ok:
        print("PASS redis-cli interactive: %s" % name, flush=True)
    else:
        failures += 1
        print("FAIL redis-cli interactive: %s: %s" % (name, why), flush=True)


def hint_after(typed):
    """The hint shown once the whole of typed is on the line."""
    os.write(fd, typed.encode())
    final = rb"> " + re.escape(typed.encode()) + rb"\x1b\[0;90;49m(.*?)\x1b\[0m"
    out = read_until(final, 5)
    m = re.search(final, out, re.S)
    os.write(fd, b"\x15")  # Ctrl-U clears the line
    read_until(rb"> \r\x1b\[\d+C$", 2)
    return m.group(1).decode() if m else None


prompt = read_until(rb"%s:%s> " % (HOST.encode(), PORT.encode()))
check("prompt", b"> " in prompt, repr(prompt[-200:]))

want = {
    "set ": "key value [NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|"
            "PXAT unix-time-milliseconds|KEEPTTL]",
    "get ": "key",
    "mset ": "key value [key value ...]",
    "expire ": "key seconds [NX|XX|GT|LT]",
    "client kill ": "ip:port|[ID client-id]|[TYPE NORMAL|MASTER|SLAVE|REPLICA|PUBSUB]|"
                    "[USER username]|[ADDR ip:port]|[LADDR ip:port]|[SKIPME yes/no] "
                    "[[ID client-id]|[TYPE NORMAL|MASTER|SLAVE|REPLICA|PUBSUB]|"
                    "[USER username]|[ADDR ip:port]|[LADDR ip:port]|[SKIPME yes/no] ...]",
}
for typed, hint in want.items():
    got = hint_after(typed)
    check("hint for '%s'" % typed.strip(), got == hint, "got %r" % got)

os.write(fd, b"set cli:k hello\r")
out = read_until(rb"OK\r\n.*> ")
check("SET typed", b"OK" in out, repr(out[-200:]))
os.write(fd, b"get cli:k\r")
out = read_until(rb"\"hello\"\r\n.*> ")
check("GET typed", b'"hello"' in out, repr(out[-200:]))
os.write(fd, b"nosuchcmd\r")
out = read_until(rb"unknown command.*> ")
check("error shown", b"(error) ERR unknown command 'nosuchcmd'" in out, repr(out[-200:]))
os.write(fd, b"help set\r")
out = read_until(rb"group:.*string.*> ")
plain = re.sub(rb"\x1b\[[0-9;]*[A-Za-z]", b"", out)
check("help set", b"SET key value [NX|XX]" in plain and b"since: 1.0.0" in plain,
      repr(plain[-300:]))
os.write(fd, b"quit\r")
read_until(rb"$^", 1)
try:
    os.waitpid(pid, 0)
except ChildProcessError:
    pass
sys.exit(1 if failures else 0)
