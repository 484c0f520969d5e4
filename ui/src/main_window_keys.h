// QSettings keys the main window's files share (private to quire_ui).
#pragma once

namespace quire::ui {

// The workspace whose prefill was running when the app last closed: offered for resuming.
inline constexpr const char* kPendingPrefill = "prefill/pending";
// The workspace open at the last close: selected again at start.
inline constexpr const char* kLastWorkspace = "ui/workspace";

} // namespace quire::ui
