// Turns what the user added (directories, single files, lists of paths) into the list of files
// to extract. A directory is walked recursively in name order: .gitignore and .ignore files are
// honoured at every level (nested files, negation, directory patterns), version-control folders
// are skipped, binary files are skipped by sniffing their first bytes, files over the size cap
// are skipped, and symbolic-link loops are detected and reported instead of followed.
// Everything that is not extracted but worth telling the user about comes back as a ScanIssue.
// Thread-safe: no shared state; the cancel flag is only read.
#pragma once

#include <atomic>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <string>
#include <variant>
#include <vector>

#include "quire/ingest/error.h"
#include "quire/ingest/model/types.h"

namespace quire::ingest {

struct ScanOptions {
    std::int64_t maxFileBytes = std::int64_t{4} << 30; // per-file cap, any kind
    bool honourIgnoreFiles = true;                     // .gitignore and .ignore
    bool followSymlinks = true;                        // loops are detected either way
    bool skipHidden = false;                      // names starting with '.' (VCS folders are always skipped)
    std::vector<std::string> extraIgnorePatterns; // gitignore syntax, relative to each root
    // Open every file to sniff its first bytes (binary files become issues, the kind comes from
    // magic bytes). Off: the walk only stats files and guesses kind and language from the name
    // (ScannedFile::contentChecked is false); the Ingestor turns this off and sniffs the first
    // chunk it reads anyway, so that each file is opened and read once.
    bool sniffContent = true;
};

struct ScannedFile {
    std::filesystem::path path;
    SourceKind kind = SourceKind::Unknown;
    std::int64_t size = 0;
    std::int64_t mtimeNs = 0;
    std::string language;       // for code
    bool contentChecked = true; // false: kind and language guessed from the name only (not sniffed)
};

struct ScanIssue {
    std::filesystem::path path;
    SourceStatus status = SourceStatus::Skipped; // Skipped (binary, too large, loop) or Quarantined
    Error error;
};

struct ScanResult {
    std::vector<ScannedFile> files;
    std::vector<ScanIssue> issues;
    bool cancelled = false;
};

// Inputs may be directories or files; a file named explicitly is never dropped by ignore rules
// (but still by the binary sniff and the size cap).
ScanResult scanSources(const std::vector<std::filesystem::path>& inputs, const ScanOptions& options = {},
                       const std::atomic<bool>* cancel = nullptr);

// Reads a list of paths, one per line (blank lines and lines starting with '#' are skipped;
// relative paths are taken relative to the list file's folder), for scanSources().
std::expected<std::vector<std::filesystem::path>, Error> readPathList(const std::filesystem::path& listFile);

// Classifies one file (kind, size, binary sniff unless options.sniffContent is off); an issue
// instead when it cannot be used. Exposed for callers that already know their file list.
std::variant<ScannedFile, ScanIssue> classifyFile(const std::filesystem::path& path,
                                                  const ScanOptions& options = {});

} // namespace quire::ingest
