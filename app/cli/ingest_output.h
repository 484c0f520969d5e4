// Progress and the final report of an ingest on the terminal (workspace add, ingest, sample).
#pragma once

#include "cli_support.h"
#include "quire/app/workspace_service.h"

namespace quire::cli {

// Prints progress to stderr and the report to stdout; finishes `wait` when request `id` ends
// (Ok, Cancelled, or Failure when nothing could be stored).
void connectIngestOutput(app::WorkspaceService& service, Wait& wait, const quint64& id);
std::string describeIngest(const app::IngestReport& r);

} // namespace quire::cli
