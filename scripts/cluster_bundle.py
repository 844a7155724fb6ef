"""Build what `spark-submit` needs to run the jobs on a cluster (`make dist`):

    dist/lakehouse-src.zip   the project's packages, for --py-files (the driver and every
                             executor import lakehouse, jobs, schemas, ... from it)
    dist/conf.zip            conf/ (environments, quality suites, merchant rules), for
                             --archives dist/conf.zip#conf with LAKEHOUSE_CONF_DIR=conf
    dist/lakehouse-*.whl     the same packages as a wheel, for clusters that install
                             dependencies into their own Python environment (pip install)

Third-party packages (deltalake, confluent-kafka, xgboost, ...) are not in the zip: they have
compiled parts. Ship them as a packed virtual environment (see README: Running on a cluster).

    python scripts/cluster_bundle.py [--out dist]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("lakehouse", "jobs", "streaming", "schemas", "feature_store", "models")


def _zip_tree(zip_path: Path, sources: list[Path], *, relative_to: Path) -> int:
    files = 0
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for source in sources:
            for path in sorted(source.rglob("*")):
                if path.is_dir() or "__pycache__" in path.parts or path.suffix == ".pyc":
                    continue
                bundle.write(path, path.relative_to(relative_to).as_posix())
                files += 1
    return files


def build(out: Path, *, wheel: bool = True) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    src, conf = out / "lakehouse-src.zip", out / "conf.zip"
    _zip_tree(src, [ROOT / p for p in PACKAGES], relative_to=ROOT)
    # The archive's root is conf/'s content: --archives conf.zip#conf unpacks it as ./conf.
    _zip_tree(conf, [ROOT / "conf"], relative_to=ROOT / "conf")
    if not wheel:
        return [src, conf]
    for old in out.glob("lakehouse-*.whl"):
        old.unlink()
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
    )
    if built.returncode:
        raise SystemExit(f"building the wheel failed:\n{built.stderr[-3000:]}")
    return [src, conf, *sorted(out.glob("lakehouse-*.whl"))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="directory (dist)")
    parser.add_argument("--no-wheel", action="store_true", help="only the two zips")
    args = parser.parse_args(argv)
    for path in build(args.out, wheel=not args.no_wheel):
        print(f"{path}  {path.stat().st_size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
