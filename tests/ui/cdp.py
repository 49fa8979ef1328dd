"""A minimal Chrome DevTools Protocol client over ``--remote-debugging-pipe`` (file descriptors 3 and 4,
NUL-separated JSON), for the UI tests that must act on a page (click, type, wait) rather than only read its
DOM. No websocket library needed."""

from __future__ import annotations

import json
import os
import subprocess
import time


class Browser:
    """Headless Chromium driven through its DevTools pipe; one page target."""

    def __init__(self, chromium: str, profile, flags: list[str]):
        to_browser_read, self._write = os.pipe()
        self._read, from_browser_write = os.pipe()
        fds = {3: to_browser_read, 4: from_browser_write}

        def wire():  # in the child: the browser reads commands on fd 3 and writes replies on fd 4
            import fcntl

            high = {target: fcntl.fcntl(source, fcntl.F_DUPFD, 10) for target, source in fds.items()}
            for target, source in high.items():  # via fds >= 10, so that neither end overwrites the other
                os.dup2(source, target)

        self.process = subprocess.Popen(
            [chromium, *flags, f"--user-data-dir={profile}", "--remote-debugging-pipe", "about:blank"],
            preexec_fn=wire, pass_fds=(3, 4), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        os.close(to_browser_read)
        os.close(from_browser_write)
        self._buffer, self._next = b"", 0
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self.call("Page.enable", session=True)
        self.call("Runtime.enable", session=True)

    def call(self, method: str, session: bool = False, **params) -> dict:
        """Send one command and wait for its reply (events in between are dropped)."""
        self._next += 1
        message = {"id": self._next, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._receive(60)
            if reply.get("id") == self._next:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page (awaited when it is a promise)."""
        result = self.call(
            "Runtime.evaluate", session=True, expression=expression, awaitPromise=True, returnByValue=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30.0):
        """Poll until ``expression`` is truthy in the page; returns its value."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.1)
        raise TimeoutError(expression)

    def _receive(self, timeout: float) -> dict:
        import select

        deadline = time.time() + timeout
        while b"\0" not in self._buffer:
            ready, _, _ = select.select([self._read], [], [], max(0.0, deadline - time.time()))
            if not ready:
                raise TimeoutError("no reply from the browser")
            chunk = os.read(self._read, 1 << 16)
            if not chunk:
                raise RuntimeError("the browser closed its pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except (RuntimeError, TimeoutError, OSError):
            pass
        self.process.kill()
        self.process.wait(timeout=30)
        os.close(self._read)
        os.close(self._write)
