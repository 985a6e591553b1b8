#!/usr/bin/env bash
# drivers.jdbc: pgJDBC from Debian (libpostgresql-jdbc-java) through a terminating patroxy
# listener: JdbcDriverTest.java, compiled here with javac, against the cluster of lib.sh.
# Usage: jdbc_test.sh PATROXY_BINARY OUTPUT_DIR (the classes land in OUTPUT_DIR/jdbc-classes).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/drivers/lib.sh
source "$here/lib.sh"
binary=${1:?usage: jdbc_test.sh PATROXY_BINARY OUTPUT_DIR}
out=${2:?usage: jdbc_test.sh PATROXY_BINARY OUTPUT_DIR}

jar=/usr/share/java/postgresql.jar
for tool in java javac; do
  command -v "$tool" >/dev/null || die "no $tool: deploy/install-packages.sh installs openjdk-17-jdk-headless"
done
[ -r "$jar" ] || die "no $jar: deploy/install-packages.sh installs libpostgresql-jdbc-java"

# Compiled first (a second or two, in parallel with nothing), so a compile error fails fast.
classes=$out/jdbc-classes
mkdir -p "$classes"
javac -Xlint:all -Werror -cp "$jar" -d "$classes" "$here/JdbcDriverTest.java"

drivers_setup "$binary"
run_driver java -cp "$classes:$jar" JdbcDriverTest
drivers_passed
