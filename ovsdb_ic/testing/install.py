"""Which OVN the sandbox runs: 23.03 from the host's packages or 25.03 from a Debian 13 root.

An :class:`OvnInstall` names, for one OVN release, the command line of every executable
:mod:`ovsdb_ic.testing` starts (``ovsdb-server``, ``ovsdb-tool``, ``ovs-appctl``,
``ovsdb-client``, ``ovn-northd``, ``ovn-ic``, the ``*ctl`` tools) and the directory of its
four ``.ovsschema`` files:

* ``"23.03"``: Debian 12's packages installed on the host (``/usr/bin``, ``/usr/sbin``) and
  the schemas of the checkout's ``schemas/`` directory;
* ``"25.03"``: Debian 13's packages (OVN 25.03.0, OVS 3.5.0) in a root directory built by
  ``debootstrap`` (``./dev setup`` does it once, cached in :data:`DEFAULT_25_03_ROOT`, or
  the directory named by the environment variable ``OVSDB_IC_OVN_25_03_ROOT``). Its
  binaries run on the host through the root's own dynamic loader and libraries, with no
  chroot; the schemas come from ``schemas/25.03/`` (copies of the root's).

:func:`ovn_install` turns a version string into an :class:`OvnInstall`; a missing root
raises :class:`~ovsdb_ic.errors.SandboxError` naming ``./dev setup``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Final, final

import attrs

from ovsdb_ic.errors import SandboxError

__all__ = [
    "DEFAULT_25_03_ROOT",
    "OVN_VERSIONS",
    "ROOT_25_03_ENV",
    "OvnInstall",
    "ovn_install",
]

#: The OVN releases :mod:`ovsdb_ic.testing` can run, oldest first.
OVN_VERSIONS: Final[tuple[str, ...]] = ("23.03", "25.03")

#: Where ``./dev`` provisions the Debian 13 root with OVN 25.03.
DEFAULT_25_03_ROOT: Final = Path("/var/cache/ovsdb-ic/ovn-25.03/root")
#: The environment variable that overrides :data:`DEFAULT_25_03_ROOT`.
ROOT_25_03_ENV: Final = "OVSDB_IC_OVN_25_03_ROOT"

_REPO_SCHEMAS: Final = Path(__file__).resolve().parents[2] / "schemas"
_SYSTEM_SCHEMA_DIR: Final = Path("/usr/share/ovn")
_SBIN_DIRS: Final[tuple[str, ...]] = ("/usr/local/sbin", "/usr/sbin", "/sbin")
# Where a Debian root keeps executables, searched in this order.
_ROOT_BIN_DIRS: Final[tuple[str, ...]] = ("usr/bin", "usr/sbin", "bin", "sbin")
_SCHEMA_FILES: Final[dict[str, str]] = {
    "ic-nb": "ovn-ic-nb.ovsschema",
    "ic-sb": "ovn-ic-sb.ovsschema",
    "nb": "ovn-nb.ovsschema",
    "sb": "ovn-sb.ovsschema",
}
_SCHEMA_DB_NAMES: Final[dict[str, str]] = {
    "ic-nb": "OVN_IC_Northbound",
    "ic-sb": "OVN_IC_Southbound",
    "nb": "OVN_Northbound",
    "sb": "OVN_Southbound",
}
_SCHEMA_ALIASES: Final[dict[str, str]] = {
    alias.lower(): key
    for key, file in _SCHEMA_FILES.items()
    for alias in (key, file, file.removesuffix(".ovsschema"), _SCHEMA_DB_NAMES[key])
}
_SETUP_HINT: Final = (
    "run ./dev setup (it builds the root with debootstrap, about 3 minutes, once), or "
    f"point {ROOT_25_03_ENV} at such a root"
)


def _which(name: str) -> str | None:
    """Executable *name* on ``PATH``, else in the ``sbin`` directories (Debian puts
    ``ovsdb-server`` in ``/usr/sbin``, which is not on a non-root user's ``PATH``)."""
    return shutil.which(name) or shutil.which(name, path=os.pathsep.join(_SBIN_DIRS))


def _resolve_in_root(root: Path, path: Path) -> Path:
    """Follow *path*'s symlinks as if *root* were ``/`` (absolute targets stay inside)."""
    current = path
    for _ in range(40):
        if not current.is_symlink():
            return current
        target = Path(os.readlink(current))
        if target.is_absolute():
            current = root / target.relative_to("/")
        else:
            current = current.parent / target
    raise SandboxError(f"too many levels of symbolic links under {root} for {path}")


@final
@attrs.frozen
class OvnInstall:
    """One OVN release's executables and schemas, as :mod:`ovsdb_ic.testing` runs them.

    *version* is the OVN release (``"23.03"``, ``"25.03"``). *root* is ``None`` for the
    host's packages, else the root directory of another Debian system whose binaries
    run through its own loader (*loader*) with *library_path* (colon-separated).
    *schema_dir* holds the four ``.ovsschema`` files of that release.

    Build one with :func:`ovn_install` (or :meth:`host` / :meth:`from_root`).
    """

    version: str
    schema_dir: Path
    root: Path | None = None
    loader: Path | None = None
    library_path: str = ""

    # -- construction ------------------------------------------------------------------

    @classmethod
    def host(cls) -> OvnInstall:
        """OVN 23.03 from the host's Debian 12 packages, schemas from ``schemas/``."""
        repo = _REPO_SCHEMAS
        schema_dir = repo if (repo / "ovn-ic-sb.ovsschema").is_file() else _SYSTEM_SCHEMA_DIR
        return cls(version="23.03", schema_dir=schema_dir)

    @classmethod
    def from_root(cls, root: str | os.PathLike[str], *, version: str = "25.03") -> OvnInstall:
        """OVN *version* from the Debian root directory *root* (its loader and libraries).

        Raises :class:`~ovsdb_ic.errors.SandboxError` when *root* has no dynamic loader
        or no ``ovn-ic`` (for instance a root still being built, or none at all).
        """
        path = Path(root)
        if not (path / "usr" / "bin" / "ovn-ic").exists():
            raise SandboxError(
                f"OVN {version} is not installed: {path}/usr/bin/ovn-ic does not "
                f"exist; {_SETUP_HINT}"
            )
        loaders = sorted(
            p
            for pattern in ("lib64/ld-linux*.so.*", "lib/ld-linux*.so.*", "lib/*/ld-linux*.so.*")
            for p in path.glob(pattern)
        )
        if not loaders:
            raise SandboxError(
                f"OVN {version} root {path} has no dynamic loader (lib64/ld-linux*); {_SETUP_HINT}"
            )
        libs = [
            str(d)
            for pattern in ("lib/*-linux-gnu", "usr/lib/*-linux-gnu")
            for d in sorted(path.glob(pattern))
            if d.is_dir()
        ]
        repo = _REPO_SCHEMAS / version
        schema_dir = repo if (repo / "ovn-ic-sb.ovsschema").is_file() else path / "usr/share/ovn"
        return cls(
            version=version,
            schema_dir=schema_dir,
            root=path,
            loader=_resolve_in_root(path, loaders[0]),
            library_path=":".join(libs),
        )

    # -- use ---------------------------------------------------------------------------

    @property
    def label(self) -> str:
        """``ovn-23.03`` / ``ovn-25.03``: a short name for test ids and messages."""
        return f"ovn-{self.version}"

    def _find(self, name: str) -> Path | None:
        if self.root is None:
            found = _which(name)
            return Path(found) if found else None
        for directory in _ROOT_BIN_DIRS:
            candidate = self.root / directory / name
            if candidate.exists() or candidate.is_symlink():
                resolved = _resolve_in_root(self.root, candidate)
                if resolved.is_file():
                    return resolved
        return None

    def command(self, name: str) -> list[str]:
        """The argv prefix that runs executable *name* of this release.

        On the host that is its absolute path; in a root it is the root's loader with
        ``--library-path`` and the binary's real path (symlinks such as Debian's
        ``/etc/alternatives`` ones resolved inside the root). Raises
        :class:`~ovsdb_ic.errors.SandboxError` naming the executable when it is missing.
        """
        return self.require(name)[name]

    def require(self, *names: str) -> dict[str, list[str]]:
        """:meth:`command` for each of *names*; one error names every missing executable."""
        found: dict[str, list[str]] = {}
        missing: list[str] = []
        for name in names:
            path = self._find(name)
            if path is None:
                missing.append(name)
            elif self.loader is None:
                found[name] = [str(path)]
            else:
                found[name] = [str(self.loader), "--library-path", self.library_path, str(path)]
        if missing:
            if self.root is None:
                from ovsdb_ic.testing.sandbox import require_binaries

                require_binaries(*missing)  # raises, naming the Debian packages
            raise SandboxError(
                f"OVN {self.version}: missing {', '.join(missing)} in {self.root} "
                f"(searched {', '.join(_ROOT_BIN_DIRS)}); {_SETUP_HINT}"
            )
        return found

    def schema(self, name: str) -> Path:
        """The ``.ovsschema`` file of database *name* (``ic-nb``, ``OVN_Southbound``...)."""
        key = _SCHEMA_ALIASES.get(name.lower())
        if key is None:
            raise SandboxError(
                f"unknown schema {name!r}; expected one of {', '.join(_SCHEMA_FILES)} "
                "or a database name such as OVN_IC_Southbound"
            )
        path = self.schema_dir / _SCHEMA_FILES[key]
        if not path.is_file():
            raise SandboxError(f"OVN {self.version}: schema file {path} does not exist")
        return path

    def schemas(self) -> Iterable[Path]:
        """The four ``.ovsschema`` files of this release."""
        return [self.schema_dir / f for f in _SCHEMA_FILES.values()]


def root_25_03() -> Path:
    """The 25.03 root in use: ``$OVSDB_IC_OVN_25_03_ROOT`` or :data:`DEFAULT_25_03_ROOT`."""
    return Path(os.environ.get(ROOT_25_03_ENV) or DEFAULT_25_03_ROOT)


def ovn_install(ovn: str | OvnInstall | None = None) -> OvnInstall:
    """The :class:`OvnInstall` for *ovn*: ``None`` or ``"23.03"`` (the host) or ``"25.03"``
    (the provisioned root); an :class:`OvnInstall` is returned unchanged.

    Raises :class:`~ovsdb_ic.errors.SandboxError` for an unknown version, or for 25.03
    when the root is missing (the message says to run ``./dev setup``).
    """
    if isinstance(ovn, OvnInstall):
        return ovn
    if ovn is None or ovn == "23.03":
        return OvnInstall.host()
    if ovn == "25.03":
        return OvnInstall.from_root(root_25_03(), version="25.03")
    raise SandboxError(f"unknown OVN version {ovn!r}: expected one of {', '.join(OVN_VERSIONS)}")
