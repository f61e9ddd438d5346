"""The bad-input corpus (tests/bad_devices): every case is refused with exit 2 and one
line naming the key path (or file) and the rule, within 10 s, writing nothing; and
randomly mutated shipped devices never crash ``spinfem check``."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import tomllib
from pathlib import Path

import pytest
from conftest import assert_bad_input, spinfem
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

HERE = Path(__file__).parent / "bad_devices"
DEVICES = Path(__file__).parents[1] / "devices"
CASES: dict[str, dict] = tomllib.loads((HERE / "cases.toml").read_text())["cases"]

#: every case must be refused within this wall time [s]
MAX_SECONDS = 10.0
#: a tool that does not refuse in time is killed here (with its children), so a missing
#: resource check fails the test instead of eating the machine
KILL_AFTER_S = 30.0
#: address space of the spinfem child (a working refusal needs far less)
CHILD_MEMORY_BYTES = 3 * 2**30


def _limit_child() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (CHILD_MEMORY_BYTES, CHILD_MEMORY_BYTES))
    resource.setrlimit(resource.RLIMIT_CPU, (int(KILL_AFTER_S) * 2, int(KILL_AFTER_S) * 2 + 5))


@pytest.fixture
def guarded(monkeypatch):
    """``conftest.spinfem`` with a memory limit and a time limit on the child: a case the
    tool fails to refuse (a billion frequencies, a 1 m channel) must not take the machine
    down with it.  On the time limit the child's process group is killed and the result
    comes back as exit -9 with a note on stderr."""
    real_popen = subprocess.Popen

    def run(args, *, capture_output=False, text=False, cwd=None, **kw):
        assert capture_output and not kw, kw
        proc = real_popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=text,
                          cwd=cwd, start_new_session=True, preexec_fn=_limit_child)
        try:
            out, err = proc.communicate(timeout=KILL_AFTER_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            out, err = proc.communicate()
            err += f"\n[test: killed after {KILL_AFTER_S:g} s]"
        return subprocess.CompletedProcess(args, proc.returncode, out, err)

    monkeypatch.setattr(subprocess, "run", run)


def _files(root: Path) -> dict[str, tuple[int, int]]:
    """Every regular file under ``root``: relative path -> (size, mtime_ns)."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in root.rglob("*") if p.is_file()}


def _empty_or_absent(path: Path) -> bool:
    return not path.exists() or (path.is_dir() and not any(path.iterdir()))


def _out_path(kind: str | None, tmp_path: Path) -> tuple[Path, Path | None]:
    """The ``--out`` of a run case, and the folder that must stay untouched."""
    if kind is None:
        return tmp_path / "out", None
    if kind == "regular_file":
        out = tmp_path / "not_a_folder.txt"
        out.write_text("a user's file that --out must not replace\n")
        return out, None
    if kind == "read_only":
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o555)
        try:  # root writes anywhere: fall back on a folder the kernel refuses to write
            (locked / ".probe").mkdir()
        except OSError:
            return locked / "spinfem_out", locked
        (locked / ".probe").rmdir()
        if not Path("/sys").is_dir():
            pytest.skip("running as root and no unwritable folder to point --out into")
        return Path("/sys") / "spinfem_out", None
    raise ValueError(f"unknown out = {kind!r} in cases.toml")


def test_corpus_is_complete():
    """One file per case, each in the manifest with a valid command, its mesh files there."""
    on_disk = {p.name for p in HERE.iterdir() if p.is_file()} - {"cases.toml", "make_meshes.py"}
    assert on_disk == set(CASES)
    assert len(CASES) >= 60
    for name, case in CASES.items():
        assert case["command"] in ("check", "run"), name
        assert case["expect"], name
        assert set(case) <= {"expect", "command", "why", "files", "out"}, name
        for f in case.get("files", []):
            assert (HERE / f).is_file(), (name, f)
        if "out" in case or "files" in case:
            assert case["command"] == "run", name


#: what `run` refuses before solving, `check` refuses too (all but the output paths)
RUNS = [(n, "run") for n, c in CASES.items() if c["command"] == "run"]
ALSO_CHECK = [(n, "check") for n, c in CASES.items() if c["command"] == "run" and "out" not in c]


@pytest.mark.parametrize(("name", "command"),
                         sorted([(n, "check") for n, c in CASES.items()
                                 if c["command"] == "check"] + RUNS + ALSO_CHECK))
def test_bad_input_is_refused(name, command, tmp_path, guarded):
    case = CASES[name]
    expected = [case["expect"]] if isinstance(case["expect"], str) else case["expect"]
    work = tmp_path / "work"
    work.mkdir()
    shutil.copyfile(HERE / name, work / name)
    for f in case.get("files", []):
        (work / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(HERE / f, work / f)
    args = [command, name]
    out, mesh_dir, locked = tmp_path / "out", tmp_path / "meshes", None
    if command == "run":
        out, locked = _out_path(case.get("out"), tmp_path)
        args += ["--out", str(out), "--mesh-dir", str(mesh_dir)]
    before = _files(tmp_path)

    t0 = time.perf_counter()
    proc = spinfem(*args, cwd=work)
    seconds = time.perf_counter() - t0

    assert_bad_input(proc, expected[0])
    for text in expected[1:]:
        assert text in proc.stderr, proc.stderr
    assert seconds < MAX_SECONDS, f"took {seconds:.1f} s"
    if locked is not None:
        locked.chmod(0o755)
    assert _files(tmp_path) == before, "files were written or changed"
    if case.get("out") is None:
        assert _empty_or_absent(out)
    assert _empty_or_absent(mesh_dir)
    assert not (work / "results").exists()


# --------------------------------------------------------------- random mutations
SHIPPED = {p.name: p.read_text() for p in sorted(DEVICES.glob("*.toml"))}
KEY_LINE = re.compile(r"^\s*([A-Za-z_][\w.\-\"]*)\s*=")


def _toml_list(items) -> str:
    return "[" + ", ".join(map(str, items)) + "]"


VALUES = st.one_of(
    st.integers(-10**12, 10**12).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),  # repr: nan, inf, 1e+300
    st.booleans().map(lambda b: "true" if b else "false"),
    st.text(max_size=12).map(json.dumps),
    st.lists(st.floats(-1e12, 1e12) | st.integers(-5, 5), max_size=3).map(_toml_list),
    st.sampled_from(["{}", "[]", '""', '"x_min"', '"top"', '"injection"', '"Cu"', '"log"',
                     "1979-05-27", "0", "-1", "1e-300", "1_000_000_000",
                     "{ start = 1e6, stop = 1e3, num = 0 }", '["Py", "Py"]', "[[1, 2]]"]),
)


@st.composite
def mutated_devices(draw):
    """A shipped device file with 1-3 random mutations: a key deleted, a value replaced
    by a random number, string, boolean, list or table, a table duplicated, or the text
    cut short."""
    name = draw(st.sampled_from(sorted(SHIPPED)))
    text = SHIPPED[name]
    for _ in range(draw(st.integers(1, 3))):
        lines = text.splitlines()
        keyed = [i for i, line in enumerate(lines) if KEY_LINE.match(line)]
        tables = [i for i, line in enumerate(lines) if line.lstrip().startswith("[")]
        op = draw(st.sampled_from(["delete", "value", "value", "duplicate", "truncate"]))
        if op == "delete" and keyed:
            del lines[draw(st.sampled_from(keyed))]
        elif op == "value" and keyed:
            i = draw(st.sampled_from(keyed))
            lines[i] = f"{KEY_LINE.match(lines[i]).group(1)} = {draw(VALUES)}"
        elif op == "duplicate" and tables:
            i = draw(st.sampled_from(tables))
            end = next((j for j in tables if j > i), len(lines))
            lines += [""] + lines[i:end]
        elif op == "truncate":
            cut = draw(st.integers(0, len(text)))
            text = text[:cut]
            continue
        text = "\n".join(lines) + "\n"
    return name, text


@pytest.fixture(scope="module")
def memory_guard():
    """Cap this process's address space while mutated devices are checked in-process,
    so a device that asks for a huge array fails the test instead of the machine."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm") as f:
        used = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    resource.setrlimit(resource.RLIMIT_AS, (used + 4 * 2**30, hard))
    yield
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_devices())
def test_mutated_devices_never_crash_check(memory_guard, device):
    """``spinfem check`` on a mutated device: ok (0) or one clean refusal (2), never a
    traceback, never an internal error (1), never an exception other than SystemExit."""
    from typer.testing import CliRunner

    from fem.cli import app

    name, text = device
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_text(text)
        result = CliRunner().invoke(app, ["check", str(path)])
    output = result.output  # click >= 8.2: stdout and stderr as the terminal shows them
    stderr = getattr(result, "stderr", "") or ""
    if stderr not in output:
        output += stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        repr(result.exception), text)
    assert result.exit_code in (0, 2), (result.exit_code, output, text)
    assert "Traceback" not in output, (output, text)
    if result.exit_code == 2:
        assert len(output.strip().splitlines()) == 1, output
