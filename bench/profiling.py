"""Sampling the server under load with py-spy (``pip install py-spy`` into the venv), and a
plain-text summary of where its time went.

``python -m bench --profile DIR`` samples daphne over each measured stretch and writes, per server
and test, py-spy's collapsed stacks (``*.txt``) and a summary (``*-summary.txt``): the functions with
the most samples on top of the stack (self), the most samples anywhere on it (inclusive), and self
time by package. Sampling pauses the process briefly at each sample, so profiled runs are for
finding costs, not for the table.
"""

import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


class Profiler:
    def __init__(self, outdir: Path, pid_of, rate: int = 100):
        self.outdir = outdir
        self.pid_of = pid_of  # callable: the pid to sample now (servers are restarted between runs)
        self.rate = rate
        self.process: subprocess.Popen | None = None
        self.current: Path | None = None
        exe = Path(sys.executable).with_name("py-spy")
        self.exe = str(exe) if exe.exists() else shutil.which("py-spy")
        if not self.exe:
            raise RuntimeError("py-spy is not installed: .venv/bin/pip install py-spy")
        outdir.mkdir(parents=True, exist_ok=True)

    def start(self, name: str) -> None:
        self.current = self.outdir / f"{name}.txt"
        self.process = subprocess.Popen(
            [self.exe, "record", "--pid", str(self.pid_of()), "--rate", str(self.rate), "--format", "raw",
             "--threads", "--output", str(self.current)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None
        if self.current and self.current.exists():
            summary = summarize(self.current.read_text())
            self.current.with_name(self.current.stem + "-summary.txt").write_text(summary)


def _short(path: str) -> str:
    for marker in ("site-packages/", "/work/main/", "lib/python3"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def _package(path: str) -> str:
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1].split("/", 1)[0]
    if "lib/python3" in path:
        return "stdlib:" + path.split("lib/python3", 1)[1].split("/", 2)[1].removesuffix(".py")
    return _short(path).split("/", 1)[0]


def summarize(collapsed: str, top: int = 40) -> str:
    """Self, inclusive and per-package sample counts from py-spy's raw (collapsed) output."""
    self_counts, inclusive, packages, threads = Counter(), Counter(), Counter(), Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        if frames and frames[0].startswith(("thread ", "process ")):
            while frames and frames[0].startswith(("thread ", "process ")):
                if frames[0].startswith("thread "):
                    threads[frames[0]] += n
                frames = frames[1:]
        names = []
        for frame in frames:
            match = _FRAME.match(frame)
            names.append((f"{match['func']} ({_short(match['file'])})", match["file"]) if match else (frame, ""))
        if not names:
            continue
        self_counts[names[-1][0]] += n
        packages[_package(names[-1][1])] += n
        for name in {name for name, _ in names}:
            inclusive[name] += n
    if not total:
        return "no samples\n"

    def table(counter: Counter, limit: int) -> str:
        return "\n".join(f"{100 * c / total:6.1f}%  {c:7d}  {name}" for name, c in counter.most_common(limit))

    return (
        f"samples: {total}\n\n== threads ==\n{table(threads, 10)}\n\n== self (top of stack) ==\n"
        f"{table(self_counts, top)}\n\n== self by package ==\n{table(packages, 25)}\n\n"
        f"== inclusive ==\n{table(inclusive, top + 20)}\n"
    )


if __name__ == "__main__":
    print(summarize(Path(sys.argv[1]).read_text()))
