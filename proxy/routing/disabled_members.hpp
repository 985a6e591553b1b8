// Members a listener's config starts in maintenance (HAProxy's server `disabled`): which admin
// states a config (or a reload) asks for, and applying them once the member has a snapshot index.
// Pure, apart from storing into the listener's admin-state atomics.
#pragma once

#include "config/config.hpp"
#include "health/cluster_snapshot.hpp"
#include "proxy/routing/route.hpp"

#include <map>
#include <string>

namespace patroxy::proxy {

/// The admin states listener `next`'s member_settings ask for, by member name (true = maint,
/// false = ready). A new listener (`previous` null): maint for each `disabled` member. After a
/// reload, only the members whose `disabled` changed: an operator who enabled a disabled member
/// keeps it enabled across reloads until the setting itself changes.
[[nodiscard]] std::map<std::string, bool> disabled_changes(const config::listener* previous,
                                                           const config::listener& next);

/// Applies the entries of `pending` whose member `snapshot` knows (and can track) to `admin`,
/// removing them from `pending`; the others wait for a later snapshot (a member not discovered
/// yet). Returns whether a member was set ready, so the caller can wake the queued clients.
bool apply_disabled(std::map<std::string, bool>& pending, const health::cluster_snapshot& snapshot,
                    member_admin_states& admin);

} // namespace patroxy::proxy
