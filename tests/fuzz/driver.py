"""The fuzzing suite's child process: open and fully read each given file, under limits.

``python driver.py MEMORY_MB SECONDS FILE...`` opens every file with ``open_state`` and
decodes every tensor (``validate``). It prints one line per file before and after:
``start N`` / ``done N`` (a clean result or a ``CsvStateError``, which is what a bad file
must give) or ``bug N Type: message`` for any other exception. With MEMORY_MB > 0 the
address space is limited (``RLIMIT_AS``); each file gets SECONDS of wall time
(``SIGALRM``). With ``CSV_STATE_FUZZ_NO_TF`` set, importing TensorFlow at all is a
failure (exit 6): those formats are read without it. A signal, a limit hit or a bug ends
the process with the file's number on its last ``start`` line, so the parent names the
file that did it.
"""

from __future__ import annotations

import os
import resource
import signal
import sys


def _timeout(signum: int, frame: object) -> None:
    raise TimeoutError("time limit")


def main(argv: list[str]) -> int:
    memory_mb, seconds, *files = argv
    if int(memory_mb) > 0:
        limit = int(memory_mb) << 20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    signal.signal(signal.SIGALRM, _timeout)
    from csv_state_viewer import CsvStateError, open_state

    for number, path in enumerate(files):
        print(f"start {number}", flush=True)
        signal.alarm(int(seconds))
        try:
            with open_state(path) as state:
                state.validate()
                for entry in state.entries:
                    str(entry.name), entry.shape, entry.dtype
        except CsvStateError:
            pass
        except TimeoutError:
            print(f"timeout {number}", flush=True)
            return 4
        except MemoryError:
            print(f"memory {number}", flush=True)
            return 5
        except BaseException as err:
            text = " ".join(str(err).split())[:300]
            print(f"bug {number} {type(err).__name__}: {text}", flush=True)
            return 3
        finally:
            signal.alarm(0)
        print(f"done {number}", flush=True)
    if os.environ.get("CSV_STATE_FUZZ_NO_TF") and "tensorflow" in sys.modules:
        print("tensorflow was imported", flush=True)
        return 6
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.exit(main(sys.argv[1:]))
