"""The cold start in instructions: the same probes under valgrind's callgrind, counted.

Wall and CPU time on this shared machine move by a tenth from one run to the next, more than
most changes to the cold start weigh. The number of instructions a process executes does not
depend on what else the machine runs: callgrind counts them (user space only: not the kernel,
not the time spent waiting on SSM or PostgreSQL, not cache misses), so the ratio of the app's
count to the dependency set's is the cold-start ratio without the noise, and a change's effect
shows in it to a few tenths of a percent (two runs of the same code differ by about 0.3 %: hash
seeds, garbage collection, the SSM answer). It is a proxy, not the target itself: the target
stays the wall and CPU ratio, measured as they are.

Optional: without valgrind on PATH the figures are left out. The two probes run side by side
(one per core), each about 50 times slower than without valgrind: about 90 s in all.
"""

from __future__ import annotations

import re
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from devtools.bench.__main__ import Runner

# what callgrind prints on exit: "==1234== Collected : 4815371402"
_COLLECTED = re.compile(r"Collected : (\d+)")
MODES = ("app", "deps")


def callgrind_command() -> list[str] | None:
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        return None
    return [valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null"]


def count(runner: Runner, env: dict[str, str]) -> dict[str, Any] | None:
    """Instructions of a cold `app` (import + first /me) and of the bare dependency set."""
    wrapper = callgrind_command()
    if wrapper is None:
        print("bench: valgrind is not installed: no instruction counts", file=sys.stderr)
        return None
    print("bench: cold start instructions (valgrind, ~90 s)", file=sys.stderr)

    def one(mode: str) -> int:
        _, _, stderr = runner.run(mode, env, wrapper=wrapper)
        found = _COLLECTED.search(stderr)
        if found is None:
            sys.exit(f"bench: callgrind printed no count for {mode}:\n{stderr[-2000:]}")
        return int(found.group(1))

    with ThreadPoolExecutor(max_workers=len(MODES)) as pool:
        counts = dict(zip(MODES, pool.map(one, MODES), strict=True))
    return {
        "instructions": counts,
        "ratio": round(counts["app"] / counts["deps"], 3),
    }
