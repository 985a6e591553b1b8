// patroxy_floor_relay: the least a user-space TCP relay can do per message, as a yardstick for
// patroxy's hot path (bench/README.md, "The floor of a user-space relay"). Per readable socket:
// one recv() and one send() to its peer, from a level-triggered epoll loop per thread; no
// protocol awareness, no timeouts, no stats, no error handling beyond closing the pair. Not a
// proxy anyone should run: it blocks on a send the peer does not take, and never frees a pair
// whose other half fails. What it measures is the kernel's share of relaying, which every
// user-space proxy pays.
//
//   patroxy_floor_relay --listen 27050 --server 27010 [--threads 2]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <thread>
#include <vector>

namespace {

constexpr int max_descriptors = 1 << 20;
constexpr std::size_t buffer_size = 32 * 1024; // as patroxy's relay buffers

/// The other end of each relayed socket, by descriptor. Written before the pair is added to an
/// epoll set, read only by the thread that owns that set.
std::vector<int> peer_of(max_descriptors, -1);

sockaddr_in loopback(int port)
{
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

void relay_loop(int epoll_fd)
{
    std::vector<char> buffer(buffer_size);
    std::array<epoll_event, 128> events{};
    for (;;) {
        const int n = epoll_wait(epoll_fd, events.data(), static_cast<int>(events.size()), -1);
        for (int i = 0; i < n; ++i) {
            const int fd = events[static_cast<std::size_t>(i)].data.fd;
            const int peer = peer_of[static_cast<std::size_t>(fd)];
            const ssize_t got = recv(fd, buffer.data(), buffer.size(), 0);
            if (got <= 0) { // closing both removes both from the epoll set
                close(fd);
                close(peer);
                continue;
            }
            for (ssize_t sent = 0; sent < got;) {
                const ssize_t w = send(peer, buffer.data() + sent, static_cast<std::size_t>(got - sent), MSG_NOSIGNAL);
                if (w <= 0) break;
                sent += w;
            }
        }
    }
}

int option(int argc, char** argv, std::string_view name, int fallback)
{
    for (int i = 1; i + 1 < argc; ++i)
        if (name == argv[i]) return std::atoi(argv[i + 1]);
    return fallback;
}

} // namespace

int main(int argc, char** argv)
{
    const int listen_port = option(argc, argv, "--listen", 0);
    const int server_port = option(argc, argv, "--server", 0);
    const int threads = option(argc, argv, "--threads", 2);
    if (listen_port <= 0 || server_port <= 0 || threads <= 0) {
        std::fprintf(stderr, "usage: patroxy_floor_relay --listen PORT --server PORT [--threads N]\n");
        return 2;
    }
    const int one = 1;
    const int listener = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    const auto listen_address = loopback(listen_port);
    if (bind(listener, reinterpret_cast<const sockaddr*>(&listen_address), sizeof listen_address) != 0 ||
        listen(listener, SOMAXCONN) != 0) {
        std::perror("patroxy_floor_relay: listen");
        return 1;
    }
    std::vector<int> epoll_fds;
    for (int i = 0; i < threads; ++i) {
        epoll_fds.push_back(epoll_create1(0));
        std::thread(relay_loop, epoll_fds.back()).detach();
    }
    const auto server_address = loopback(server_port);
    // Accepts here and deals the pairs out in turn, so N long-lived clients spread evenly.
    for (std::size_t next = 0;; ++next) {
        const int client = accept(listener, nullptr, nullptr);
        if (client < 0 || client >= max_descriptors) continue;
        const int server = socket(AF_INET, SOCK_STREAM, 0);
        if (server >= max_descriptors ||
            connect(server, reinterpret_cast<const sockaddr*>(&server_address), sizeof server_address) != 0) {
            close(client);
            close(server);
            continue;
        }
        for (const int fd : {client, server}) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        peer_of[static_cast<std::size_t>(client)] = server;
        peer_of[static_cast<std::size_t>(server)] = client;
        const int epoll_fd = epoll_fds[next % epoll_fds.size()];
        for (const int fd : {client, server}) {
            epoll_event ev{};
            ev.events = EPOLLIN;
            ev.data.fd = fd;
            epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev);
        }
    }
}
