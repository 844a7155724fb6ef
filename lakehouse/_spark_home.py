"""A SPARK_HOME for local sessions whose Python processes import PySpark from site-packages.

Spark puts ``$SPARK_HOME/python/lib/pyspark.zip`` first on the PYTHONPATH of every Python
process it starts (UDF daemons, the data source planners, a streaming query's source runner).
The zip holds sources only, so each of those processes compiles PySpark again: ~1 s where the
installed package, with its cached bytecode, takes ~0.3 s. A streaming query pays it at every
start. With a pip-installed PySpark and a local master the workers run this interpreter, which
has PySpark installed, so the zip is not needed: this home links everything of the installed
one but the zip.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

__all__ = ["lean_spark_home"]


def lean_spark_home(spark_home: Path, *, package: Path, version: str, under: Path) -> Path | None:
    """The lean home for ``spark_home`` (made on first use in ``under``), or None when
    ``spark_home`` is not the pip package ``package`` (a Spark distribution the user chose) or
    ``under`` is read-only: Spark's default then, only slower to start."""
    if spark_home.resolve() != package.resolve():
        return None
    target = under / f"spark-home-{version}"
    if (target / "bin" / "spark-submit").exists():
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        building = Path(tempfile.mkdtemp(prefix=".spark-home-", dir=target.parent))
        building.chmod(0o755)
        _link_all_but_zip(package, building)
        try:
            building.rename(target)
        except OSError:  # another process made it first
            shutil.rmtree(building, ignore_errors=True)
    except OSError:
        return None
    return target


def _link_all_but_zip(package: Path, home: Path) -> None:
    skipped = Path("python") / "lib" / "pyspark.zip"
    for entry in (package, package / "python", package / "python" / "lib"):
        relative = entry.relative_to(package)
        into = home / relative
        into.mkdir(exist_ok=True)
        for child in entry.iterdir():
            name = relative / child.name
            # python/ and python/lib/ are rebuilt here; everything else is a link.
            if name in (Path("python"), Path("python") / "lib", skipped):
                continue
            with contextlib.suppress(FileExistsError):
                os.symlink(child, into / child.name)
