#!/usr/bin/env bash
# Installs the Debian packages the lakehouse needs, skipping what is already there.
# Java 17 (Spark), MariaDB (the MySQL source), PostgreSQL (the Redshift stand-in) and their JDBC
# driver jars (/usr/share/java), and Chromium (the tests render `lakehouse report` headless).
# Safe to re-run: it only calls apt-get for missing packages.
set -euo pipefail

wanted=(mariadb-server postgresql libmariadb-java libpostgresql-jdbc-java chromium)
if ! command -v java >/dev/null 2>&1; then
  wanted+=(openjdk-17-jre-headless)
fi

missing=()
for pkg in "${wanted[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo -n"
fi
echo "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# Packages' own init scripts may try to start servers; the lakehouse starts its own instances.
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
