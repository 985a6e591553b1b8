// test_pki: each certificate is an X509 built field by field and signed by its issuer's key;
// the extensions are the ones verification looks at (basicConstraints, keyUsage, extendedKeyUsage,
// subjectAltName), so a chain that verifies here verifies the way a real deployment's would.
#include "tests/support/test_pki.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <vector>

namespace patroxy::test {
namespace {

struct pkey_free {
    void operator()(EVP_PKEY* key) const noexcept { EVP_PKEY_free(key); }
};
struct x509_free {
    void operator()(X509* cert) const noexcept { X509_free(cert); }
};
struct bio_free {
    void operator()(BIO* bio) const noexcept { BIO_free(bio); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;
using x509_ptr = std::unique_ptr<X509, x509_free>;

[[noreturn]] void fail(const std::string& what)
{
    char reason[256] = "";
    ERR_error_string_n(ERR_get_error(), reason, sizeof reason);
    throw std::runtime_error("test_pki: " + what + ": " + reason);
}

pkey_ptr make_key()
{
    std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr),
                                                                    &EVP_PKEY_CTX_free);
    EVP_PKEY* key = nullptr;
    if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 || EVP_PKEY_CTX_set_group_name(ctx.get(), "P-256") != 1 ||
        EVP_PKEY_generate(ctx.get(), &key) != 1)
        fail("generating a P-256 key");
    return pkey_ptr(key);
}

/// What one certificate says about itself.
struct certificate_spec {
    std::string common_name;
    bool ca = false;
    std::string alt_names;         ///< subjectAltName value, e.g. "IP:127.0.0.1,DNS:localhost"; empty: none
    std::string extended_key_usage; ///< "serverAuth" or "clientAuth"; empty for a CA
};

void add_extension(X509* cert, X509V3_CTX& ctx, int nid, const std::string& value)
{
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    if (!ext || X509_add_ext(cert, ext, -1) != 1) fail("adding extension " + value);
    X509_EXTENSION_free(ext);
}

/// `key`'s certificate, signed by `issuer_key` as `issuer` (both null: self-signed).
x509_ptr make_certificate(const certificate_spec& spec, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key)
{
    static long serial = 1;
    x509_ptr cert(X509_new());
    if (!cert) fail("X509_new");
    X509_set_version(cert.get(), 2); // v3, for extensions
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial++);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 30L * 24 * 3600);
    X509_set_pubkey(cert.get(), key);
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(spec.common_name.c_str()),
                               -1, -1, 0);
    X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name);

    X509V3_CTX ctx{};
    X509V3_set_ctx(&ctx, issuer ? issuer : cert.get(), cert.get(), nullptr, nullptr, 0);
    add_extension(cert.get(), ctx, NID_basic_constraints, spec.ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
    add_extension(cert.get(), ctx, NID_key_usage, spec.ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
    if (!spec.extended_key_usage.empty()) add_extension(cert.get(), ctx, NID_ext_key_usage, spec.extended_key_usage);
    if (!spec.alt_names.empty()) add_extension(cert.get(), ctx, NID_subject_alt_name, spec.alt_names);

    if (X509_sign(cert.get(), issuer_key ? issuer_key : key, EVP_sha256()) == 0) fail("signing " + spec.common_name);
    return cert;
}

void write_certificate(const std::string& path, X509* cert)
{
    std::unique_ptr<BIO, bio_free> bio(BIO_new_file(path.c_str(), "w"));
    if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) fail("writing " + path);
}

void write_key(const std::string& path, EVP_PKEY* key)
{
    std::unique_ptr<BIO, bio_free> bio(BIO_new_file(path.c_str(), "w"));
    if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1)
        fail("writing " + path);
    // libpq and PostgreSQL refuse a key that others can read.
    if (::chmod(path.c_str(), 0600) != 0) fail("chmod " + path);
}

std::string make_dir()
{
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/patroxy-pki-XXXXXX";
    std::vector<char> buffer(pattern.begin(), pattern.end());
    buffer.push_back('\0');
    if (!mkdtemp(buffer.data())) throw std::runtime_error("test_pki: mkdtemp failed for " + pattern);
    return buffer.data();
}

} // namespace

test_pki::test_pki() : dir_(make_dir())
{
    ca_cert = dir_ + "/ca.crt";
    ca_key = dir_ + "/ca.key";
    other_ca_cert = dir_ + "/other-ca.crt";
    server_cert = dir_ + "/server.crt";
    server_key = dir_ + "/server.key";
    misnamed_server_cert = dir_ + "/misnamed-server.crt";
    client_cert = dir_ + "/client.crt";
    client_key = dir_ + "/client.key";

    const auto ca_key_pair = make_key();
    const auto ca = make_certificate({"patroxy test CA", true, "", ""}, ca_key_pair.get(), nullptr, nullptr);
    write_certificate(ca_cert, ca.get());
    write_key(ca_key, ca_key_pair.get());

    const auto other_key = make_key();
    write_certificate(other_ca_cert,
                      make_certificate({"patroxy other CA", true, "", ""}, other_key.get(), nullptr, nullptr).get());

    const auto server = make_key();
    write_certificate(server_cert, make_certificate({"localhost", false, "IP:127.0.0.1,IP:::1,DNS:localhost", "serverAuth"},
                                                    server.get(), ca.get(), ca_key_pair.get())
                                       .get());
    write_key(server_key, server.get());
    write_certificate(misnamed_server_cert, make_certificate({"node9.example", false, "DNS:node9.example", "serverAuth"},
                                                             server.get(), ca.get(), ca_key_pair.get())
                                                .get());

    const auto client = make_key();
    write_certificate(client_cert,
                      make_certificate({"patroxy", false, "", "clientAuth"}, client.get(), ca.get(), ca_key_pair.get()).get());
    write_key(client_key, client.get());
}

test_pki::~test_pki()
{
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
}

const test_pki& shared_test_pki()
{
    static const test_pki instance;
    return instance;
}

} // namespace patroxy::test
