// The sample workspace a new user sees first: a short contract (PDF), a small code tree and a
// meeting recording, compiled into the binary from resources/samples/. installSamples() writes
// them to <data>/samples (files with the same bytes are left alone, so re-ingesting them costs
// nothing); the GUI and `quire-cli sample` then ingest that folder into a workspace "Sample".
// Thread-safe (files only).
#pragma once

#include <QString>

#include <expected>
#include <string>

namespace quire::app {

inline constexpr const char* kSampleWorkspace = "Sample";
// A question the default model (SmolLM2-135M) answers from the contract.
inline constexpr const char* kSampleQuestion = "What is the monthly fee?";

QString samplesFolder(const QString& dataDir);
// Returns how many files were (re)written.
std::expected<int, std::string> installSamples(const QString& dataDir);

} // namespace quire::app
