// What the suite leaves for its last check, tests.secrets_not_logged: the secrets the tests
// configured or observed (passwords, cancel keys) and a copy of every patroxy log, under one
// directory of the build tree (PATROXY_TEST_EVIDENCE_DIR, from the environment or CMake).
#pragma once

#include <string>
#include <string_view>

namespace patroxy::test {

/// The directory; created on first use.
[[nodiscard]] std::string evidence_dir();

/// Appends "<kind>\t<value>" to secrets.txt, for values that must appear in no log. One write
/// with O_APPEND, so tests running in parallel processes do not interleave lines.
void record_secret(std::string_view kind, std::string_view value);

/// Records every password a patroxy config holds: "password" values, the content of
/// "password_file" files and the value of "password_env" variables, at any depth.
void record_config_secrets(const std::string& config_json);

/// Copies a patroxy log into logs/ (under a unique name) before its temporary directory goes.
void keep_log(const std::string& log_path);

} // namespace patroxy::test
