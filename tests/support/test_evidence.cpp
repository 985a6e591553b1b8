// Evidence for the log check: secrets and logs written where a ctest run started last finds them.
#include "tests/support/test_evidence.hpp"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#ifndef PATROXY_TEST_EVIDENCE_DIR
#define PATROXY_TEST_EVIDENCE_DIR "/tmp/patroxy-test-evidence"
#endif

namespace patroxy::test {
namespace {

void append(const std::filesystem::path& file, const std::string& text)
{
    const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) return; // evidence is best effort: the check reports a missing file itself
    [[maybe_unused]] const auto written = ::write(fd, text.data(), text.size());
    ::close(fd);
}

std::string file_content(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

void walk(const nlohmann::json& node)
{
    if (node.is_array()) {
        for (const auto& item : node) walk(item);
        return;
    }
    if (!node.is_object()) return;
    for (const auto& [key, value] : node.items()) {
        if (value.is_string()) {
            const auto& text = value.get_ref<const std::string&>();
            if (key == "password") record_secret("password", text);
            if (key == "password_file") record_secret("password_file", file_content(text));
            if (key == "password_env")
                if (const char* env = std::getenv(text.c_str())) record_secret("password_env", env);
        }
        walk(value);
    }
}

} // namespace

std::string evidence_dir()
{
    const char* env = std::getenv("PATROXY_TEST_EVIDENCE_DIR");
    const std::string dir = env != nullptr && *env != '\0' ? env : PATROXY_TEST_EVIDENCE_DIR;
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(dir) / "logs", ec);
    return dir;
}

void record_secret(std::string_view kind, std::string_view value)
{
    std::string text(value);
    while (text.ends_with('\n') || text.ends_with('\r')) text.pop_back(); // a file's final newline
    if (text.empty() || text.find('\n') != std::string::npos) return;    // one line per secret
    append(std::filesystem::path(evidence_dir()) / "secrets.txt", std::string(kind) + "\t" + text + "\n");
}

void record_config_secrets(const std::string& config_json)
{
    const auto doc = nlohmann::json::parse(config_json, nullptr, false);
    if (!doc.is_discarded()) walk(doc);
}

void keep_log(const std::string& log_path)
{
    static std::atomic<unsigned> serial{0};
    const auto name = "patroxy-" + std::to_string(::getpid()) + "-" + std::to_string(serial++) + ".log";
    std::error_code ec;
    std::filesystem::copy_file(log_path, std::filesystem::path(evidence_dir()) / "logs" / name,
                               std::filesystem::copy_options::overwrite_existing, ec);
}

} // namespace patroxy::test
