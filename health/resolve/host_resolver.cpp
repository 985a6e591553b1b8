// The resolve-and-wait dance: the lookup's completion handler and the caller's deadline timer
// meet in a shared state, so whichever comes first wins and the other finds nothing to do.
#include "health/resolve/host_resolver.hpp"

#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>

namespace patroxy::health {

/// Shared between a lookup in flight and its completion handler. A handler that comes after its
/// caller gave up finds `waiter` null and only fills a state nobody reads, unless a later
/// resolve() picked the lookup up again.
struct host_resolver::lookup_state {
    bool finished = false;
    lookup_result result;
    asio::steady_timer* waiter = nullptr;
};

host_resolver::host_resolver(asio::any_io_executor ex, std::string host, std::uint16_t port, lookup_fn lookup)
    : host_(std::move(host)), port_(port), resolver_(std::move(ex)), lookup_(std::move(lookup))
{
    if (lookup_) return;
    lookup_ = [this](const std::string& name, std::uint16_t service, std::function<void(lookup_result)> done) {
        // The handler holds only `done`: it may run after this resolver is gone (with
        // operation_aborted), as Asio completes every operation it accepted.
        resolver_.async_resolve(name, std::to_string(service),
                                [done = std::move(done)](const asio::error_code& ec,
                                                         const asio::ip::tcp::resolver::results_type& results) {
                                    lookup_result r;
                                    r.error = ec;
                                    for (const auto& entry : results) r.endpoints.push_back(entry.endpoint());
                                    done(std::move(r));
                                });
    };
}

host_resolver::~host_resolver()
{
    if (in_flight_) in_flight_->waiter = nullptr;
}

void host_resolver::cancel()
{
    if (!in_flight_) return;
    auto state = std::move(in_flight_);
    if (state->waiter) state->waiter->cancel();
    state->waiter = nullptr;
    resolver_.cancel();
}

asio::awaitable<lookup_result> host_resolver::resolve(asio::steady_timer& deadline)
{
    if (!in_flight_) {
        auto state = std::make_shared<lookup_state>();
        in_flight_ = state;
        lookup_(host_, port_, [state](lookup_result r) {
            state->finished = true;
            state->result = std::move(r);
            if (state->waiter) state->waiter->cancel();
        });
    }
    const auto state = in_flight_;
    if (!state->finished) {
        state->waiter = &deadline;
        const auto [wait_ec] = co_await deadline.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
        state->waiter = nullptr;
        if (!state->finished) {
            // Woken without an answer: the deadline, or a cancel. A lookup still running stays in
            // flight for the next resolve() unless cancel() abandoned it.
            lookup_result out;
            out.error = wait_ec == asio::error::operation_aborted ? asio::error::operation_aborted : asio::error::timed_out;
            co_return out;
        }
    }
    if (in_flight_ == state) in_flight_.reset();
    lookup_result out = std::move(state->result);
    if (!out.error && out.endpoints.empty()) out.error = asio::error::host_not_found;
    co_return out;
}

} // namespace patroxy::health
