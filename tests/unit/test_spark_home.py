"""lean_spark_home: a pip PySpark's home, linked, without python/lib/pyspark.zip."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakehouse._spark_home import lean_spark_home

pytestmark = pytest.mark.unit


def pip_package(root: Path) -> Path:
    package = root / "site-packages" / "pyspark"
    (package / "bin").mkdir(parents=True)
    (package / "bin" / "spark-submit").write_text("#!/bin/sh\n")
    (package / "jars").mkdir()
    (package / "python" / "lib").mkdir(parents=True)
    (package / "python" / "lib" / "pyspark.zip").write_bytes(b"zip")
    (package / "python" / "lib" / "py4j-0.10.9.9-src.zip").write_bytes(b"zip")
    (package / "python" / "pyspark").mkdir()
    (package / "__init__.py").write_text("")
    return package


def test_links_everything_but_the_pyspark_zip(tmp_path: Path) -> None:
    package = pip_package(tmp_path)

    home = lean_spark_home(package, package=package, version="4.3.0", under=tmp_path / "share")

    assert home == tmp_path / "share" / "spark-home-4.3.0"
    assert (home / "bin" / "spark-submit").resolve() == package / "bin" / "spark-submit"
    assert (home / "jars").resolve() == package / "jars"
    assert (home / "__init__.py").is_symlink()
    assert (home / "python" / "pyspark").resolve() == package / "python" / "pyspark"
    assert (home / "python" / "lib" / "py4j-0.10.9.9-src.zip").is_symlink()
    assert not (home / "python" / "lib" / "pyspark.zip").exists()
    assert [p.name for p in (tmp_path / "share").iterdir()] == ["spark-home-4.3.0"]


def test_an_existing_home_is_reused(tmp_path: Path) -> None:
    package = pip_package(tmp_path)
    first = lean_spark_home(package, package=package, version="4.3.0", under=tmp_path / "s")
    marker = first / "marker"
    marker.write_text("kept")

    again = lean_spark_home(package, package=package, version="4.3.0", under=tmp_path / "s")

    assert again == first
    assert marker.read_text() == "kept"


def test_a_spark_distribution_the_user_chose_is_left_alone(tmp_path: Path) -> None:
    package = pip_package(tmp_path)
    distribution = tmp_path / "spark-4.0.0-bin-hadoop3"
    distribution.mkdir()

    assert lean_spark_home(distribution, package=package, version="4", under=tmp_path) is None
    assert not (tmp_path / "spark-home-4").exists()


def test_a_read_only_place_falls_back_to_the_default(tmp_path: Path) -> None:
    package = pip_package(tmp_path)
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")

    assert lean_spark_home(package, package=package, version="4", under=blocked / "x") is None
