// A throwaway PKI for the TLS tests, made in-process with OpenSSL (no `openssl` CLI, no fork):
// two unrelated CAs, a server certificate for 127.0.0.1, ::1 and localhost (and one for another
// name), and a client certificate, written as PEM files into a fresh temp dir that the
// destructor removes.
#pragma once

#include <string>

namespace patroxy::test {

class test_pki {
public:
    /// Generates everything (P-256 keys, SHA-256 signatures, valid from an hour ago for 30 days);
    /// throws std::runtime_error with OpenSSL's reason when a step fails.
    test_pki();
    test_pki(const test_pki&) = delete;
    test_pki& operator=(const test_pki&) = delete;
    ~test_pki();

    [[nodiscard]] const std::string& dir() const noexcept { return dir_; }

    std::string ca_cert;       ///< the CA that signed server_cert and client_cert
    std::string ca_key;        ///< its key, for tests that sign more (an expired certificate, say)
    std::string other_ca_cert; ///< a CA that signed nothing here: trusting it must fail verification
    std::string server_cert;   ///< CN and SANs 127.0.0.1, ::1, localhost; extended key usage serverAuth
    std::string server_key;
    /// Signed by ca_cert with server_key's key, but for node9.example only: right CA, wrong name.
    std::string misnamed_server_cert;
    std::string client_cert; ///< CN patroxy; extended key usage clientAuth
    std::string client_key;

private:
    std::string dir_;
};

/// One test_pki for the whole test binary, made on first use (key generation is the slow part).
[[nodiscard]] const test_pki& shared_test_pki();

} // namespace patroxy::test
