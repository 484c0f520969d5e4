// SQL and row readers shared by block_store.cpp (blocks) and snapshots.cpp (snapshots, garbage).
#pragma once

#include <bit>
#include <cstdint>

#include "quire/storage/block_store.h"
#include "sql.h"

namespace quire::storage::detail {

inline constexpr const char* kBlockColumns =
    "b.id, b.model_fingerprint, b.prefix_hash, b.layer_group, b.parent_hash, b.token_begin, b.token_end, "
    "b.byte_size, b.row_count, b.created_unix";
inline constexpr int kBlockColumnCount = 10;

inline BlockInfo readBlock(const sql::Stmt& s)
{
    BlockInfo info;
    info.id = s.int64(0);
    info.key = BlockKey{s.blob(1), s.blob(2), s.int32(3)};
    info.placement = BlockPlacement{s.blob(4), s.int64(5), s.int64(6)};
    info.bytes = s.int64(7);
    info.rows = s.int32(8);
    info.createdUnix = s.int64(9);
    return info;
}

// The chains of every snapshot, as (snapshot_id, block_id) pairs in the CTE "used". Each step
// looks up the parent of the current prefix hash; UNION (not UNION ALL) ends any cycle.
inline constexpr const char* kUsedBlocksCte = R"sql(
WITH RECURSIVE chain(snapshot_id, fp, hash) AS (
  SELECT id, model_fingerprint, last_prefix_hash FROM kv.kv_snapshots
  UNION
  SELECT c.snapshot_id, c.fp,
         (SELECT p.parent_hash FROM kv.kv_blocks p
          WHERE p.model_fingerprint = c.fp AND p.prefix_hash = c.hash LIMIT 1)
  FROM chain c WHERE c.hash IS NOT NULL
),
used(snapshot_id, block_id) AS (
  SELECT c.snapshot_id, b.id FROM chain c
  JOIN kv.kv_blocks b ON b.model_fingerprint = c.fp AND b.prefix_hash = c.hash
)
)sql";

inline std::int64_t toStored(std::uint64_t checksum)
{
    return std::bit_cast<std::int64_t>(checksum);
}
inline std::uint64_t fromStored(std::int64_t checksum)
{
    return std::bit_cast<std::uint64_t>(checksum);
}

} // namespace quire::storage::detail
