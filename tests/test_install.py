"""`pairtui` in a new shell after the README's install: scripts/install-launcher.

The real script runs against the test's HOME, and new shells are real `bash -l` / `sh -l`
started as a fresh login starts them (``env -i``), reading that HOME's dotfiles: Debian's
for a user (``/etc/skel``) and for root (``/usr/share/base-files``), or none. The TPM
entry point finding what was installed is tested in test_e2e_tmux_key.py.
"""

from __future__ import annotations

import getpass
import os
import shutil
import subprocess
from pathlib import Path
from typing import NamedTuple

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "install-launcher"
VERSION_LINE = "pairtui 0.1.0"


def run_script(
    home: Path, *args: str, shell: str = "/bin/bash", script: Path = SCRIPT, **extra: str
) -> subprocess.CompletedProcess[str]:
    """The script as a user runs it: their HOME, their shell, a PATH without ~/.local/bin."""
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin", "SHELL": shell, "TERM": "dumb",
           "LANG": "C.UTF-8", "USER": getpass.getuser(), "LOGNAME": getpass.getuser(),
           **extra}  # fmt: skip
    return subprocess.run(
        [str(script), *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def new_shell(home: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """A shell started as a new login starts it: nothing inherited but HOME."""
    return subprocess.run(
        ["env", "-i", f"HOME={home}", "TERM=dumb", *argv],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def the_fix(stderr: str) -> str:
    """The command the script tells the user to paste, without its ``&& export``."""
    [line] = [line for line in stderr.splitlines() if "will not find pairtui" in line]
    command = line.split("this one): ", 1)[1]
    return command.split(" && export ", 1)[0]


@pytest.fixture
def home() -> Path:
    """The test's HOME (conftest's isolated_env)."""
    return Path(os.environ["HOME"])


def launcher(home: Path) -> Path:
    return home / ".local" / "bin" / "pairtui"


def test_the_checkout_has_the_pairtui_the_launcher_runs() -> None:
    assert os.access(ROOT / ".venv" / "bin" / "pairtui", os.X_OK), "run scripts/bootstrap"


class Dotfiles(NamedTuple):
    test_id: str
    shell: str
    files: dict[str, str]  # name in HOME -> where to copy it from ("" for an empty file)
    fix_in: str | None  # the file the script names; None: new shells already find it


DOTFILES = [
    Dotfiles("debian-user", "/bin/bash",
             {".profile": "/etc/skel/.profile", ".bashrc": "/etc/skel/.bashrc"}, None),
    Dotfiles("debian-root", "/bin/bash",
             {".profile": "/usr/share/base-files/dot.profile",
              ".bashrc": "/usr/share/base-files/dot.bashrc"}, "~/.bashrc"),
    Dotfiles("none-bash", "/bin/bash", {}, "~/.profile"),
    Dotfiles("none-sh", "/bin/sh", {}, "~/.profile"),
    Dotfiles("bash-profile", "/bin/bash", {".bash_profile": ""}, "~/.bash_profile"),
]  # fmt: skip


@pytest.mark.parametrize("case", DOTFILES, ids=[d.test_id for d in DOTFILES])
def test_pairtui_runs_in_a_new_shell_through_the_launcher(home: Path, case: Dotfiles) -> None:
    for name, source in case.files.items():
        if source and not Path(source).exists():
            pytest.skip(f"no {source} on this system")
        (home / name).write_text(Path(source).read_text() if source else "")
    res = run_script(home, shell=case.shell)
    assert res.returncode == 0, res.stderr
    assert f"{launcher(home)} runs {ROOT}/.venv/bin/pairtui" in res.stderr
    login = new_shell(home, "bash", "-lc", "command -v pairtui; pairtui --version")
    if case.fix_in is None:
        assert "will not find" not in res.stderr
        assert "new login shells find pairtui in $HOME/.local/bin" in res.stderr
    else:
        fix = the_fix(res.stderr)
        assert fix == f"echo 'export PATH=\"$HOME/.local/bin:$PATH\"' >> {case.fix_in}"
        assert "pairtui: command not found" in login.stderr
        applied = new_shell(home, "sh", "-c", f"cd && {fix}")
        assert applied.returncode == 0, applied.stderr
        login = new_shell(home, "bash", "-lc", "command -v pairtui; pairtui --version")
        # Once fixed, new shells find it: no more line to add.
        assert "will not find" not in run_script(home, shell=case.shell).stderr
    assert login.stdout.splitlines() == [str(launcher(home)), VERSION_LINE], login.stderr
    if case.fix_in == "~/.bashrc":  # also for a terminal that is not a login shell
        interactive = new_shell(home, "bash", "-ic", "pairtui --version")
        assert VERSION_LINE in interactive.stdout.splitlines(), interactive.stderr
    login_sh = new_shell(home, case.shell, "-lc", "pairtui --version")
    assert login_sh.stdout.strip() == VERSION_LINE, login_sh.stderr


def test_xdg_bin_home_is_where_the_launcher_goes(home: Path) -> None:
    bindir = home / "my bin"
    res = run_script(home, XDG_BIN_HOME=str(bindir))
    assert res.returncode == 0, res.stderr
    assert not launcher(home).exists()
    assert "echo 'export PATH=\"$HOME/my bin:$PATH\"' >> ~/.profile" in res.stderr
    ran = subprocess.run([bindir / "pairtui", "--version"], capture_output=True, text=True,
                         timeout=60, check=False)  # fmt: skip
    assert ran.stdout.strip() == VERSION_LINE, ran.stderr


def test_running_it_again_changes_nothing_and_says_so_once(home: Path) -> None:
    run_script(home)
    stat = launcher(home).stat()
    again = run_script(home)
    assert again.returncode == 0 and "runs" not in again.stderr
    assert launcher(home).stat().st_mtime_ns == stat.st_mtime_ns


class Other(NamedTuple):
    test_id: str
    venv: str  # where pipx or uv keep their pairtui, under HOME


OTHERS = [
    Other("pipx", ".local/share/pipx/venvs/pairtui/bin/pairtui"),
    Other("uv-tool", ".local/share/uv/tools/pairtui/bin/pairtui"),
]


@pytest.mark.parametrize("case", OTHERS, ids=[o.test_id for o in OTHERS])
def test_a_pairtui_installed_by_pipx_or_uv_is_left_alone(home: Path, case: Other) -> None:
    theirs = home / case.venv
    theirs.parent.mkdir(parents=True)
    theirs.write_text("#!/bin/sh\necho theirs\n")
    theirs.chmod(0o755)
    launcher(home).parent.mkdir(parents=True)
    launcher(home).symlink_to(theirs)
    res = run_script(home)
    assert res.returncode == 0, res.stderr
    assert launcher(home).is_symlink() and launcher(home).resolve() == theirs
    assert f"left {launcher(home)} -> {theirs} alone" in res.stderr
    assert "pipx uninstall pairtui / uv tool uninstall pairtui" in res.stderr
    # --remove removes only a launcher of ours.
    assert run_script(home, "--remove").returncode == 0
    assert launcher(home).is_symlink()


def test_a_symlink_to_nothing_is_replaced(home: Path) -> None:
    launcher(home).parent.mkdir(parents=True)
    launcher(home).symlink_to(home / "uninstalled" / "pairtui")
    res = run_script(home)
    assert "which is gone" in res.stderr
    assert not launcher(home).is_symlink()
    ran = subprocess.run([launcher(home), "--version"], capture_output=True, text=True,
                         timeout=60, check=False)  # fmt: skip
    assert ran.stdout.strip() == VERSION_LINE


def fake_checkout(where: Path) -> Path:
    """A checkout whose .venv's pairtui prints its arguments."""
    (where / "scripts").mkdir(parents=True)
    shutil.copy2(SCRIPT, where / "scripts" / "install-launcher")
    venv_bin = where / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "pairtui").write_text('#!/bin/sh\necho "fake pairtui:$*"\n')
    (venv_bin / "pairtui").chmod(0o755)
    return where / "scripts" / "install-launcher"


def test_the_launcher_says_when_its_checkout_moved_and_follows_it_once_told(
    home: Path, tmp_path: Path
) -> None:
    old = tmp_path / "it's a $checkout `here`"
    script = fake_checkout(old)
    assert run_script(home, script=script).returncode == 0
    ran = subprocess.run([launcher(home), "a b", "$c"], capture_output=True, text=True,
                         timeout=30, check=False)  # fmt: skip
    assert ran.stdout == "fake pairtui:a b $c\n"

    new = tmp_path / "moved"
    old.rename(new)
    ran = subprocess.run([launcher(home)], capture_output=True, text=True, timeout=30,
                         check=False)  # fmt: skip
    assert ran.returncode == 127
    assert f"runs {old}/.venv/bin/pairtui, which is gone" in ran.stderr
    res = run_script(home, script=new / "scripts" / "install-launcher")
    assert f"runs {new}/.venv/bin/pairtui" in res.stderr
    ran = subprocess.run([launcher(home), "x"], capture_output=True, text=True, timeout=30,
                         check=False)  # fmt: skip
    assert ran.stdout == "fake pairtui:x\n"

    assert run_script(home, "--remove", script=new / "scripts" / "install-launcher").returncode == 0
    assert not launcher(home).exists()
