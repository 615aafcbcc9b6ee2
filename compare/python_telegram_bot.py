"""Times python-telegram-bot on the payloads `peer_bench write` made, and
this crate on the same payloads (`peer_bench time`), case by case in
alternation, and prints each case's medians and this crate's time over
python-telegram-bot's.

    python compare/python_telegram_bot.py PEER_BENCH DIR [ROUNDS]   (default 3 rounds)

Run through compare/peers.sh, which installs python-telegram-bot into a
throwaway virtual environment and builds PEER_BENCH. Each side does the same
work from the same bytes: parse the input, then decrypt, verify and decode;
python-telegram-bot through its public objects (`EncryptedCredentials`,
`PassportData.decrypted_data`) and, for files, the function its
`PassportFile` downloads decrypt with.
"""

import base64
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import cryptography
import telegram
from cryptography.hazmat.backends.openssl import backend as openssl
from telegram import Bot, EncryptedCredentials, PassportData
from telegram._passport.credentials import decrypt as decrypt_file

BUDGET_NS = 1_000_000_000
RUNS = (15, 2_000)


def median_ns(run):
    """Median over runs of `run`, which returns its own time in ns, after warm-up."""
    warm_up = sum(run() for _ in range(3)) // 3
    runs = max(RUNS[0], min(RUNS[1], BUDGET_NS // max(warm_up, 1)))
    return statistics.median(run() for _ in range(runs)), runs


def timed(f):
    """Times one call of `f`; what it returns is freed after the clock stops, as on our side."""
    start = time.perf_counter_ns()
    result = f()
    elapsed = time.perf_counter_ns() - start
    del result
    return elapsed


def case_runner(directory, case):
    data = (directory / case["input"]).read_bytes()
    kind = case["kind"]
    if kind in ("credentials", "passport"):
        bot = Bot("123456:test-token-for-decryption-only", private_key=(directory / case["key"]).read_bytes())
    if kind == "credentials":

        def run():
            credentials = EncryptedCredentials.de_json(json.loads(data), bot)
            assert credentials.decrypted_data.nonce == "nonce"
            return credentials

        return lambda: timed(run)
    if kind == "passport":

        def run():
            passport = PassportData.de_json(json.loads(data), bot)
            assert len(passport.decrypted_data) == 5
            return passport

        return lambda: timed(run)
    if kind == "file":
        secret, file_hash = base64.b64decode(case["secret"]), base64.b64decode(case["hash"])
        return lambda: timed(lambda: decrypt_file(secret, file_hash, data))
    raise ValueError(f"unknown kind {kind!r}")


def ours(peer_bench, directory, index):
    command = [peer_bench, "time", str(directory), str(index)]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(out)["median_ns"]


def show(ns):
    return f"{ns / 1e6:.2f} ms" if ns >= 1e6 else f"{ns / 1e3:.0f} µs"


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    peer_bench, directory = sys.argv[1], Path(sys.argv[2])
    rounds = int(sys.argv[3]) if len(sys.argv) == 4 else 3
    cases = json.loads((directory / "cases.json").read_text())
    runners = {case["case"]: case_runner(directory, case) for case in cases}

    samples = {case["case"]: ([], []) for case in cases}
    for round_number in range(1, rounds + 1):
        print(f"round {round_number} of {rounds}: each case, this crate then python-telegram-bot", file=sys.stderr)
        for index, (case, run) in enumerate(runners.items()):
            samples[case][0].append(ours(peer_bench, directory, index))
            samples[case][1].append(median_ns(run)[0])

    print(f"python-telegram-bot {telegram.__version__} on Python {platform.python_version()}, "
          f"cryptography {cryptography.__version__} on {openssl.openssl_version_text()}; "
          f"{rounds} rounds, each timing every case with this crate then python-telegram-bot; "
          "each cell the median of the rounds' medians\n")
    print("| case | this crate | python-telegram-bot | ours / PTB | per round |")
    print("|---|---|---|---|---|")
    for case, (mine, theirs) in samples.items():
        per_round = ", ".join(f"{a / b:.2f}" for a, b in zip(mine, theirs))
        a, b = statistics.median(mine), statistics.median(theirs)
        print(f"| {case} | {show(a)} | {show(b)} | {a / b:.2f} | {per_round} |")


if __name__ == "__main__":
    main()
