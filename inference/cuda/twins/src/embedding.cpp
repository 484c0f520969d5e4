#include "quire/inference/cuda/twins/embedding.h"

#include "quire/inference/cuda/bf16.h"

namespace quire::inference::cuda::twins {

void embeddingGather(const void* table, bool tableIsBf16, int vocab, int dim, const std::int32_t* ids,
                     int count, float* out)
{
    for (int i = 0; i < count; ++i) {
        float* row = out + static_cast<long long>(i) * dim;
        const std::int32_t id = ids[i];
        if (id < 0 || id >= vocab) {
            for (int d = 0; d < dim; ++d)
                row[d] = 0.0f;
            continue;
        }
        const long long base = static_cast<long long>(id) * dim;
        for (int d = 0; d < dim; ++d)
            row[d] = tableIsBf16 ? bf16ToFloat(static_cast<const std::uint16_t*>(table)[base + d])
                                 : static_cast<const float*>(table)[base + d];
    }
}

} // namespace quire::inference::cuda::twins
